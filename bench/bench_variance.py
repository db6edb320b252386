"""Run-to-run variance on SemEval-2014 restaurants with 110 labelled sentences: single runs, seeded runs, seed ensembles, best-of-N.

The 110 labelled sentences are drawn once (stratified, seed 0) from the official training split: they are the user's
labelled set. Every run splits them 80/20 into training and validation (stratified) and is scored on the official
test split. Other training sentences (their labels unused) are the unlabelled pool for language-model fine-tuning.

(a) plain recipe: every run draws a fresh random seed, as code without seeding does (split, weights and batch
    order all vary; the seeds are recorded);
(b) everything seeded: run i uses seed i for its split, weights and batches;
(c) seed ensembles: average the test probabilities of k runs, over disjoint groups of the (a) and (b) runs;
plus best-of-N: the run with the best validation accuracy, its test accuracy against the mean.

    nice -n 10 python bench/bench_variance.py --runs 10 --out bench/results/variance.json
"""
import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def load(n_labelled, pool_size, seed=0):
    "The labelled draw, the unlabelled pool and the official test split."
    from reviewclf.data import load_dataset, stratified_sample
    df = load_dataset('semeval_restaurants')
    train = df[df['split'] == 'train'].reset_index(drop=True)
    test = df[df['split'] == 'test'].reset_index(drop=True)[['text', 'label']]
    lab = stratified_sample(train, n_labelled, seed=seed)
    rest = train.drop(index=lab.index)
    pool = rest.sample(min(pool_size, len(rest)), random_state=seed)['text'].tolist()
    return lab[['text', 'label']].reset_index(drop=True), pool, test


def recipe(backbone, args):
    from reviewclf.classifier import TrainConfig
    if backbone == 'embeddings': return TrainConfig(backbone='embeddings', verbose=False)
    return TrainConfig(size='small', pretrained=args.pretrained, lm_epochs=args.lm_epochs, epochs=args.epochs,
                       bs=args.bs, verbose=False)


def stats_row(name, acc, f1, valid=None):
    acc, f1 = np.asarray(acc, float), np.asarray(f1, float)
    sd = lambda v: v.std(ddof=1) if len(v) > 1 else float('nan')
    row = {'setting': name, 'n': len(acc), 'test acc mean': acc.mean(), 'test acc sd': sd(acc),
           'test acc min': acc.min(), 'test acc max': acc.max(),
           'test F1 mean': f1.mean(), 'test F1 sd': sd(f1), 'test F1 min': f1.min(), 'test F1 max': f1.max()}
    if valid is not None:
        valid = np.asarray(valid, float)
        row.update({'valid acc mean': valid.mean(), 'valid acc sd': sd(valid), 'valid acc min': valid.min(), 'valid acc max': valid.max()})
    return row


def study(backbone, lab, pool, test, args):
    from reviewclf.evaluate import EvalResult, run_seeds
    cfg = recipe(backbone, args)
    kw = dict(test_df=test, unlabelled=pool, valid_pct=args.valid_pct, n_jobs=args.n_jobs, progress=False)
    t0 = time.time()
    plain = run_seeds(lab, cfg, seeds=args.runs, seeded=False, **kw)
    print(f'[{backbone}] (a) {args.runs} unseeded runs: {time.time() - t0:.0f}s', flush=True)
    t1 = time.time()
    seeded = run_seeds(lab, cfg, seeds=args.runs, **kw)
    print(f'[{backbone}] (b) {args.runs} seeded runs: {time.time() - t1:.0f}s', flush=True)
    both = EvalResult(pd.concat([plain.runs, seeded.runs], ignore_index=True), plain.test_probs + seeded.test_probs,
                      plain.classes, plain.test_labels)
    rows = [stats_row('(a) plain recipe, unseeded', plain.runs.test_accuracy, plain.runs.test_macro_f1, plain.runs.valid_accuracy),
            stats_row('(b) everything seeded (seed i)', seeded.runs.test_accuracy, seeded.runs.test_macro_f1, seeded.runs.valid_accuracy),
            stats_row('single runs, (a)+(b)', both.runs.test_accuracy, both.runs.test_macro_f1, both.runs.valid_accuracy)]
    for k in args.ensemble_sizes:
        if 2 * args.runs // k < 1: continue
        e = both.ensembles(k)
        rows.append(stats_row(f'(c) seed ensembles of {k} (disjoint runs)', e.test_accuracy, e.test_macro_f1))
    best = {f'best of {n}': both.best_of_n(n=n, draws=5000) for n in (5, 10) if n <= len(both.runs)}
    best.update({f'best of {args.runs}, (b) as run': seeded.best_of_n(), f'best of {args.runs}, (a) as run': plain.best_of_n()})
    best_f1 = {f'best of {n}': both.best_of_n(n=n, metric='macro_f1', draws=5000) for n in (5, 10) if n <= len(both.runs)}
    return dict(table=rows, best_of_n=best, best_of_n_macro_f1=best_f1, seconds=round(time.time() - t0),
                runs_plain=plain.runs.to_dict('records'), runs_seeded=seeded.runs.to_dict('records'))


def markdown(rows):
    cols = ['setting', 'n', 'test acc mean', 'test acc sd', 'test acc min', 'test acc max', 'test F1 mean', 'test F1 sd',
            'test F1 min', 'test F1 max', 'valid acc mean', 'valid acc sd', 'valid acc min', 'valid acc max']
    fmt = lambda v: '' if v is None or (isinstance(v, float) and np.isnan(v)) else (f'{v:.3f}' if isinstance(v, float) else str(v))
    lines = ['| ' + ' | '.join(cols) + ' |', '|' + ' --- |' * len(cols)]
    lines += ['| ' + ' | '.join(fmt(r.get(c)) for c in cols) + ' |' for r in rows]
    return '\n'.join(lines)


def best_lines(best):
    return '\n'.join(f"- {k}: picked run validation {b['picked_valid']:.3f} vs mean {b['mean_valid']:.3f} "
                     f"(optimism {b['optimism']:+.3f} = {b['optimism_in_std']:.2f} sd; normal theory {b['expected_optimism_in_std']:.2f} sd); "
                     f"its test {b['picked_test']:.3f} vs mean test {b['mean_test']:.3f} (gain {b['test_gain']:+.3f}; {b['groups']} group(s))"
                     for k, b in best.items())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--runs', type=int, default=10, help='runs per setting (a) and (b)')
    p.add_argument('--n-labelled', type=int, default=110)
    p.add_argument('--pool-size', type=int, default=1000, help='unlabelled sentences for LM fine-tuning')
    p.add_argument('--valid-pct', type=float, default=0.2)
    p.add_argument('--backbones', default='awd_lstm,embeddings')
    p.add_argument('--pretrained', default='none')
    p.add_argument('--lm-epochs', type=int, default=1)
    p.add_argument('--epochs', type=int, default=5)
    p.add_argument('--bs', type=int, default=32)
    p.add_argument('--ensemble-sizes', type=int, nargs='+', default=[5])
    p.add_argument('--n-jobs', type=int, default=1)
    p.add_argument('--out', default='bench/results/variance.json')
    args = p.parse_args(argv)
    warnings.simplefilter('ignore')
    import torch
    torch.set_num_threads(max(1, torch.get_num_threads()))
    lab, pool, test = load(args.n_labelled, args.pool_size)
    print(f'SemEval-2014 restaurants: {len(lab)} labelled {dict(lab.label.value_counts())}, {len(pool)} unlabelled, '
          f'{len(test)} test sentences', flush=True)
    out = dict(settings=vars(args), machine=dict(python=platform.python_version(), torch=torch.__version__,
               threads=torch.get_num_threads(), device='cpu'), results={})
    for b in args.backbones.split(','):
        r = study(b, lab, pool, test, args)
        out['results'][b] = r
        print(f'\n### {b} ({r["seconds"]}s)\n\n' + markdown(r['table']) + '\n\nbest-of-N (accuracy):\n' + best_lines(r['best_of_n'])
              + '\n\nbest-of-N (macro-F1):\n' + best_lines(r['best_of_n_macro_f1']), flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2, default=float))
    print(f'\nwritten to {args.out}')


if __name__ == '__main__':
    main()
