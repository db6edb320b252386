"""Plain, class-weighted and cost-decided predictions over seeds, on the career-coaching demo and on Yelp stars.

For each dataset and seed: train on a small labelled sample, fit a temperature on a labelled validation sample, and
score on a fixed test set: accuracy, macro-F1 and expected cost (mean cost per review).

    REVIEWCLF_DATA=/work/shared/data nice -n 10 python bench/bench_costs.py --seeds 5

Models: the library's sentence-embedding backbone (frozen MiniLM + logistic regression, `--model embeddings`), a
TF-IDF + logistic regression baseline (`--model tfidf`), or the ULMFiT AWD-LSTM classifier (`--model awd_lstm`,
small and without pre-training; slow on a CPU). Set REVIEWCLF_EMBED_CACHE to a folder to reuse embeddings
between runs.
"""
import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault('HF_HUB_OFFLINE', '1')
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np
import pandas as pd

from reviewclf.costs import (apply_temperature, cost_scores, fit_temperature, min_cost_decision, nll,
                             ordinal_costs, read_costs, unweight_probs, weights_from_costs)
from reviewclf.data import demo_pool_labels, demo_reviews, load_dataset, stratified_split

DEMO_COSTS = {'lost job': {'lost job': 0, 'career change': 1, 'current job': 1},
              'career change': {'lost job': 1, 'career change': 0, 'current job': 1},
              'current job': {'lost job': 5, 'career change': 1, 'current job': 0}}  # rows predicted, columns true


def demo_splits(seed, n_train=110):
    "110 of the 165 labelled demo reviews to train, the other 55 to calibrate; the 330 pool reviews to test."
    demo = demo_reviews()
    labelled = demo[demo.label.notna()]
    train, valid = stratified_split(labelled, valid_pct=1 - n_train / len(labelled), seed=seed)
    test = demo[demo.label.isna()].assign(label=demo_pool_labels())
    return train, valid, test


def yelp_splits(seed, n_train=200, n_valid=100, n_test=600):
    "A fixed random test sample of Yelp reviews; train and validation samples drawn per seed from the rest."
    df = load_dataset('yelp_10k')[['text', 'label']]
    test = df.sample(n_test, random_state=12345)
    rest = df.drop(test.index).sample(n_train + n_valid, random_state=seed)
    return rest.iloc[:n_train], rest.iloc[n_train:], test


def make_model(kind):
    "A function (train_df, valid_df, class_weights, seed) -> model with `.classes` and `.predict_proba(texts)`."
    if kind == 'embeddings':
        from reviewclf.embeddings import train_embedding_model

        def fit(train, valid, class_weights, seed):
            return train_embedding_model(train, dict(seed=seed, class_weights=class_weights))
        return fit
    if kind == 'awd_lstm':
        from reviewclf.classifier import TrainConfig, train_model

        def fit(train, valid, class_weights, seed):
            cfg = TrainConfig(backbone='awd_lstm', size='small', seed=seed, class_weights=class_weights, verbose=False)
            return train_model(train, cfg, valid_df=valid)
        return fit
    if kind == 'tfidf':
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        class TfidfModel:
            def __init__(self, train, class_weights, seed):
                self.classes = sorted(train.label.astype(str).unique())
                y = train.label.astype(str).map({c: i for i, c in enumerate(self.classes)}).to_numpy()
                cw = class_weights if class_weights in (None, 'balanced') else \
                    {i: class_weights[c] for i, c in enumerate(self.classes)}
                self.pipe = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
                                          LogisticRegression(C=10, max_iter=3000, class_weight=cw, random_state=seed))
                self.pipe.fit(train.text.tolist(), y)

            def predict_proba(self, texts):
                texts = texts.text.tolist() if isinstance(texts, pd.DataFrame) else list(texts)
                return self.pipe.predict_proba(texts)

        def fit(train, valid, class_weights, seed):
            return TfidfModel(train, 'balanced' if class_weights == 'auto' else class_weights, seed)
        return fit
    raise ValueError(f"unknown --model {kind!r}; use embeddings, tfidf or awd_lstm")


def run_one(fit, train, valid, test, costs, seed):
    "Scores of each decision rule for one seed."
    classes = sorted(train.label.astype(str).unique())
    C = read_costs(costs, classes)
    idx = {c: i for i, c in enumerate(classes)}
    y_valid = valid.label.astype(str).map(idx).to_numpy()
    y_test = test.label.astype(str).map(idx).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        w = weights_from_costs(C)
    plain = fit(train, valid, None, seed)
    weighted = fit(train, valid, dict(zip(classes, w)), seed)
    balanced = fit(train, valid, 'auto', seed)
    texts = test.text.tolist()
    p_plain, p_weighted, p_balanced = (m.predict_proba(texts) for m in (plain, weighted, balanced))
    T = fit_temperature(plain.predict_proba(valid.text.tolist()), y_valid)
    p_cal = apply_temperature(p_plain, T)
    rules = {
        'plain (argmax)': (p_plain.argmax(1), p_plain),
        'weighted by costs (argmax)': (p_weighted.argmax(1), p_weighted),
        'weighted balanced (argmax)': (p_balanced.argmax(1), p_balanced),
        'weighted by costs, unweighted + min cost': (min_cost_decision(unweight_probs(p_weighted, w), C),
                                                     unweight_probs(p_weighted, w)),
        'plain + min cost': (min_cost_decision(p_plain, C), p_plain),
        'plain + temperature + min cost': (min_cost_decision(p_cal, C), p_cal),
    }
    rows = []
    for name, (pred, probs) in rules.items():
        rows.append(dict(rule=name, seed=seed, T=T, nll=nll(probs, y_test), **cost_scores(y_test, pred, C)))
    return rows


def summarise(df):
    "Mean and standard deviation over seeds, one row per rule, in the order the rules were run."
    order = list(dict.fromkeys(df.rule))
    g = df.groupby('rule', sort=False)[['accuracy', 'macro_f1', 'expected_cost', 'nll']]
    out = g.mean().round(3).astype(str) + ' ± ' + g.std().fillna(0).round(3).astype(str)
    return out.loc[order]


def markdown(df):
    "A DataFrame as a GitHub markdown table (no extra dependency)."
    cols = [df.index.name or ''] + list(df.columns)
    lines = ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    lines += ['| ' + ' | '.join([str(i)] + [str(v) for v in row]) + ' |' for i, row in zip(df.index, df.to_numpy())]
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seeds', type=int, default=5, help='number of seeds (0..n-1)')
    ap.add_argument('--datasets', nargs='+', default=['demo', 'yelp'], choices=['demo', 'yelp'])
    ap.add_argument('--model', default='embeddings', choices=['embeddings', 'tfidf', 'awd_lstm'],
                    help='awd_lstm: the ULMFiT classifier (small, no pre-training); slow on a CPU')
    ap.add_argument('--power', type=int, default=1, help='Yelp costs |i-j|**power (1 or 2)')
    ap.add_argument('--yelp-train', type=int, default=200)
    ap.add_argument('--out', default=None, help='write the per-seed rows to this CSV')
    args = ap.parse_args(argv)
    fit, all_rows = make_model(args.model), []
    for name in args.datasets:
        t0 = time.time()
        if name == 'demo': costs = DEMO_COSTS
        else: costs = pd.DataFrame(ordinal_costs(5, args.power), index=list('12345'), columns=list('12345'))
        for seed in range(args.seeds):
            splits = demo_splits(seed) if name == 'demo' else yelp_splits(seed, n_train=args.yelp_train)
            rows = run_one(fit, *splits, costs, seed)
            all_rows += [dict(dataset=name, **r) for r in rows]
        df = pd.DataFrame([r for r in all_rows if r['dataset'] == name])
        n = [len(s) for s in splits]
        cost_name = 'lost job -> current job costs 5, other mistakes 1' if name == 'demo' else f'|i-j|**{args.power}'
        print(f"\n{name}: {args.model}, train/valid/test = {n[0]}/{n[1]}/{n[2]}, {args.seeds} seeds, "
              f"costs {cost_name}, temperature {df['T'].mean():.2f} ± {df['T'].std():.2f} ({time.time() - t0:.0f}s)")
        print(markdown(summarise(df)))
    if args.out: pd.DataFrame(all_rows).to_csv(args.out, index=False)


if __name__ == '__main__':
    main()
