"""Prediction speed: `ReviewModel.predict` (batched) vs `learn.predict` in a loop vs `learn.get_preds` on a test DataLoader.

Trains a small model on the embedded demo reviews (seconds), then classifies a few hundred texts three ways and prints
texts per second for each, after checking that the three agree on the probabilities.

    nice -n 10 python bench/bench_predict.py --n 300
"""
import argparse
import os
import sys
import time

import numpy as np
import torch


def timed(fn, repeat):
    "Best wall-clock time of `repeat` calls of `fn` (and its last result)."
    best, res = float('inf'), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
    return best, res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=300, help='texts to classify (default: 300)')
    p.add_argument('--loop-n', type=int, default=None, help='texts for the learn.predict loop (default: --n)')
    p.add_argument('--repeat', type=int, default=2, help='repeats; the best time counts (default: 2)')
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: torch default)')
    args = p.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)

    from reviewclf.classifier import TrainConfig, load_model, train_model
    from reviewclf.data import demo_reviews
    from reviewclf.lm import tokenize
    df = demo_reviews()
    lab = df[df['label'].notna()]
    model = train_model(lab, TrainConfig(size='small', epochs=1, lm_epochs=1, seed=0, verbose=False))
    texts = df['text'].tolist()
    texts = (texts * (args.n // len(texts) + 1))[:args.n]
    loop_n = args.loop_n or args.n
    learn = model.learn
    # CurveRecorder (the loss-plot recorder) breaks learn.predict/get_preds after training (float(None) in
    # after_epoch, reported to the core lesson); it only matters while training, so drop it here.
    learn.remove_cbs([cb for cb in learn.cbs if type(cb).__name__ == 'CurveRecorder'])

    t_batched, probs = timed(lambda: model.predict_proba(texts), args.repeat)

    # The classifier's Datasets hold (tokens, label) items, so fastai's own paths take (tokens,) items;
    # tokenising is inside every timing, as it is inside predict_proba.
    def loop():
        with learn.no_bar(), learn.no_logging():
            return np.stack([learn.predict((tokenize([t])[0],))[2].numpy() for t in texts[:loop_n]])
    t_loop, probs_loop = timed(loop, 1)

    def get_preds():
        dl = learn.dls.test_dl([(t,) for t in tokenize(texts)], num_workers=0)
        with learn.no_bar(), learn.no_logging():
            return learn.get_preds(dl=dl)[0].numpy()
    t_gp, probs_gp = timed(get_preds, args.repeat)

    # Categorize(sort=False) keeps the model's class order, so the columns line up.
    agree_loop = float(np.abs(probs_loop - probs[:loop_n]).max())
    agree_gp = float(np.abs(probs_gp - probs).max())

    rows = [('ReviewModel.predict_proba (batched)', args.n, t_batched),
            ('learn.predict in a loop', loop_n, t_loop),
            ('learn.get_preds on test_dl', args.n, t_gp)]
    print(f'{len(model.classes)} classes, torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}\n')
    print('| method | texts | seconds | texts/second |')
    print('| --- | --- | --- | --- |')
    for name, n, t in rows:
        print(f'| {name} | {n} | {t:.2f} | {n / t:.0f} |')
    print(f'\nmax |prob difference| vs batched: learn.predict {agree_loop:.2e}, get_preds {agree_gp:.2e}')


if __name__ == '__main__':
    sys.exit(main())
