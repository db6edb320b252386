"""Sentence embeddings vs TF-IDF vs majority class on SemEval-2014 restaurants (topic), by number of labels.

Each run draws a stratified random sample of `n` labelled sentences from the official train split (seed = run;
the same draws as bench_semeval.py),
trains, and scores on the official test split (611 single-label sentences). Results are appended to a CSV
(one row per method, n and seed), so an interrupted run resumes where it stopped; the summary table
(mean and standard deviation over seeds) is printed as markdown.

    export REVIEWCLF_DATA=/path/to/data HF_HUB_OFFLINE=1   # from the repository root, reviewclf[embeddings] installed
    nice -n 10 python bench/bench_embeddings.py
    python bench/bench_embeddings.py --summary   # only print the table from the CSV

Training time is CPU seconds (process time, all threads) for one model, including the choice of C by
cross-validation and the held-out predictions train_embedding_model makes; embeddings come from the on-disk
cache in --cache (filled once at the start, as the library does across seeds and folds), fine-tuned encoders
embed their training texts afresh.
"""
import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from sklearn.model_selection import train_test_split

from reviewclf.embeddings import EmbeddingCache, EmbeddingConfig, load_encoder, tfidf_baseline, train_embedding_model

COLS = ['method', 'n', 'seed', 'accuracy', 'macro_f1', 'train_s']


def load_semeval():
    "Official train and test splits of the single-label restaurant sentences."
    data = Path(os.environ.get('REVIEWCLF_DATA', Path(__file__).resolve().parents[2]/'shared'/'data'))
    df = pd.read_csv(data/'semeval2014_restaurants'/'restaurants_aspect_category_single.csv')
    return df[df.split == 'train'].reset_index(drop=True), df[df.split == 'test'].reset_index(drop=True)


def draw(train, n, seed):
    "The labelled sample for one seed: the same draws as bench_semeval.py (all rows when n covers the split)."
    if n >= len(train): return train
    return train_test_split(train, train_size=n, stratify=train['label'], random_state=seed)[0]


def scores(probs, classes, truth):
    pred = np.array(classes)[probs.argmax(1)]
    return accuracy_score(truth, pred), f1_score(truth, pred, average='macro')


_DONE = {}

def run_embedding(sub, test, cfg, cache):
    "Train on `sub`, predict `test`; memoised per (sample, settings) so an ensemble reuses its first member."
    key = (tuple(sub.index), repr(cfg))
    if key not in _DONE:
        t0 = time.process_time()
        model = train_embedding_model(sub, cfg, cache=cache)
        train_s = time.process_time() - t0
        _DONE[key] = model.predict_proba(test), model.classes, train_s
    return _DONE[key]


def run_one(method, sub, test, seed, cache, ft_pairs):
    "Probabilities on the test set, the class order, and the training time."
    if method == 'frozen MiniLM + LR':
        return run_embedding(sub, test, EmbeddingConfig(seed=seed), cache)
    if method == 'frozen MiniLM + LR, class_weights=auto':
        return run_embedding(sub, test, EmbeddingConfig(seed=seed, class_weights='auto'), cache)
    if method == 'frozen MiniLM + MLP head':
        return run_embedding(sub, test, EmbeddingConfig(seed=seed, head='mlp'), cache)
    if method == 'fine-tuned MiniLM (SetFit-style) + LR':
        return run_embedding(sub, test, EmbeddingConfig(seed=seed, finetune=True, pairs=ft_pairs), cache)
    if method == 'setfit package + LR':
        return run_setfit(sub, test, seed, ft_pairs)
    if method.startswith('TF-IDF + LR'):
        t0 = time.process_time()
        probs, classes = tfidf_baseline(sub, test, seed, 'auto' if 'auto' in method else None)
        return probs, classes, time.process_time() - t0
    if method == 'majority class':
        classes = sorted(sub.label.unique())
        probs = np.zeros((len(test), len(classes)))
        probs[:, classes.index(sub.label.value_counts().index[0])] = 1
        return probs, classes, 0.0
    raise ValueError(method)


def run_setfit(sub, test, seed, ft_pairs):
    "The `setfit` package itself (not a reviewclf dependency) on the same sample, same base model and pair rounds."
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    from reviewclf.embeddings import resolve_model
    t0 = time.process_time()
    classes = sorted(sub.label.unique())
    ds = Dataset.from_dict({'text': sub.text.tolist(), 'label': [classes.index(c) for c in sub.label]})
    model = SetFitModel.from_pretrained(resolve_model(None))
    args = TrainingArguments(batch_size=16, num_iterations=ft_pairs, num_epochs=1, seed=seed, report_to='none')
    Trainer(model=model, args=args, train_dataset=ds).train()
    train_s = time.process_time() - t0
    return np.asarray(model.predict_proba(test.text.tolist())), classes, train_s


def ensemble(sub, test, seed, cache, k, ft_pairs):
    "Average of k fine-tuned models on the same labelled sample (training seeds seed, seed+100, ...)."
    probs, total = 0, 0.0
    for j in range(k):
        p, classes, t = run_embedding(sub, test, EmbeddingConfig(seed=seed + 100 * j, finetune=True, pairs=ft_pairs), cache)
        probs, total = probs + p / k, total + t
    return probs, classes, total


def summary(res):
    g = res.groupby(['n', 'method'], sort=False)
    tab = g.agg(seeds=('seed', 'count'), acc=('accuracy', 'mean'), acc_sd=('accuracy', 'std'),
                f1=('macro_f1', 'mean'), f1_sd=('macro_f1', 'std'), train_s=('train_s', 'mean')).reset_index()
    lines = ['| labels | method | seeds | accuracy | macro-F1 | CPU train time (s) |', '|---:|---|---:|---|---|---:|']
    for r in tab.sort_values(['n', 'acc'], ascending=[True, False]).itertuples():
        sd = lambda v: '' if np.isnan(v) else f' ± {v:.3f}'
        n = 'all (2,468)' if r.n >= 2468 else str(r.n)
        lines.append(f'| {n} | {r.method} | {r.seeds} | {r.acc:.3f}{sd(r.acc_sd)} | {r.f1:.3f}{sd(r.f1_sd)} | {r.train_s:.1f} |')
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='bench/results_embeddings.csv', help='CSV of per-run results (appended)')
    ap.add_argument('--cache', default='/tmp/reviewclf_embed_cache', help='on-disk embedding cache folder')
    ap.add_argument('--plan', default='110:10,500:5,2468:1', help='n:seeds for the cheap methods')
    ap.add_argument('--ft-plan', default='110:3', help='n:seeds for fine-tuning')
    ap.add_argument('--ft-pairs', type=int, default=20, help='pair rounds for fine-tuning')
    ap.add_argument('--ensemble', default='110:2:3', help='n:seeds:members for the fine-tuned seed ensemble ("" to skip)')
    ap.add_argument('--setfit-plan', default='', help='n:seeds for the setfit package, when it is importable')
    ap.add_argument('--methods', default='', help='only these of the cheap methods, separated by ";"')
    ap.add_argument('--mlp', action='store_true', help='also run the small torch head on frozen embeddings')
    ap.add_argument('--summary', action='store_true', help='only print the table from --out')
    args = ap.parse_args()
    out = Path(args.out)
    res = pd.read_csv(out) if out.exists() else pd.DataFrame(columns=COLS)
    if args.summary:
        print(summary(res))
        return
    train, test = load_semeval()
    cache = EmbeddingCache(args.cache)
    cache.embed(pd.concat([train.text, test.text]).tolist(), load_encoder())
    cheap = ['majority class', 'TF-IDF + LR', 'TF-IDF + LR, class_weights=auto', 'frozen MiniLM + LR',
             'frozen MiniLM + LR, class_weights=auto'] + (['frozen MiniLM + MLP head'] if args.mlp else [])
    if args.methods: cheap = [m for m in cheap if m in args.methods.split(';')]
    jobs = [(m, int(n), s) for n, k in (p.split(':') for p in args.plan.split(',') if p) for s in range(int(k)) for m in cheap]
    jobs += [('fine-tuned MiniLM (SetFit-style) + LR', int(n), s)
             for n, k in (p.split(':') for p in args.ft_plan.split(',') if p) for s in range(int(k))]
    jobs += [('setfit package + LR', int(n), s)
             for n, k in (p.split(':') for p in args.setfit_plan.split(',') if p) for s in range(int(k))]
    if args.ensemble:
        n, k, members = map(int, args.ensemble.split(':'))
        jobs += [(f'seed ensemble of {members} fine-tuned', n, s) for s in range(k)]
    done = set(zip(res.method, res.n.astype(int), res.seed.astype(int)))
    for method, n, seed in jobs:
        if (method, n, seed) in done: continue
        sub = draw(train, n, seed)
        if method.startswith('seed ensemble'):
            probs, classes, t = ensemble(sub, test, seed, cache, members, args.ft_pairs)
        else:
            probs, classes, t = run_one(method, sub, test, seed, cache, args.ft_pairs)
        acc, f1 = scores(probs, classes, test.label)
        row = pd.DataFrame([[method, n, seed, acc, f1, round(t, 2)]], columns=COLS)
        row.to_csv(out, mode='a', header=not out.exists(), index=False)
        res = pd.concat([res, row], ignore_index=True)
        print(f'{method:40s} n={n:5d} seed={seed} acc={acc:.3f} macro-F1={f1:.3f} train={t:.1f}s', flush=True)
    print(summary(res))


if __name__ == '__main__':
    main()
