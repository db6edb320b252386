"""SemEval-2014 restaurants, topic classes, from 110 labels: ULMFiT vs TF-IDF + logistic regression vs majority class.

Per seed: 110 sentences drawn stratified from the official training split are the labelled set; the rest of that
split plus Yelp review texts form the unlabelled pool (language-model fine-tuning only); every method is scored on
the official test split. Prints a markdown table (mean ± standard deviation over seeds) and writes JSON.

    nice -n 10 python bench/bench_semeval.py --seeds 3 --pool-size 2000 --out bench/results/semeval.json
"""
import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

SEMEVAL = 'semeval2014_restaurants/restaurants_aspect_category_single.csv'
YELP = 'yelp_reviews_10k/yelp_reviews_10k.csv'


def _data_dir():
    d = os.environ.get('REVIEWCLF_DATA')
    if d is None:
        raise SystemExit('error: set REVIEWCLF_DATA to the datasets folder (the one holding semeval2014_restaurants/)')
    return Path(d)


def load_semeval():
    "Official train and test splits of the single-label SemEval-2014 restaurant topics."
    try:
        from reviewclf.data import load_dataset
        df = load_dataset('semeval_restaurants')
    except (ImportError, KeyError, ValueError, FileNotFoundError):
        df = pd.read_csv(_data_dir()/SEMEVAL)
    df = df[['text', 'label', 'split']]
    return df[df.split == 'train'].reset_index(drop=True), df[df.split == 'test'].reset_index(drop=True)


def load_yelp_texts():
    "The 10k Yelp review texts (labels, the star ratings, are not used)."
    try:
        from reviewclf.data import load_dataset
        df = load_dataset('yelp_10k')
    except (ImportError, KeyError, ValueError, FileNotFoundError):
        df = pd.read_csv(_data_dir()/YELP)
    return df['text'].dropna().astype(str).tolist()


def draw(train, yelp, n_labelled, pool_size, seed):
    "The labelled draw and the unlabelled pool for one seed."
    lab, rest = train_test_split(train, train_size=n_labelled, stratify=train['label'], random_state=seed)
    pool = rest['text'].tolist() + yelp
    if pool_size is not None and pool_size < len(pool):
        rng = np.random.default_rng(seed)
        pool = [pool[i] for i in sorted(rng.choice(len(pool), pool_size, replace=False))]
    return lab.reset_index(drop=True), pool


def scores(y, pred):
    return dict(accuracy=float(accuracy_score(y, pred)), macro_f1=float(f1_score(y, pred, average='macro', zero_division=0)))


def run_majority(lab, pool, test, args, seed):
    return [lab['label'].value_counts().idxmax()] * len(test)


def run_tfidf_default(lab, pool, test, args, seed):
    "scikit-learn defaults (C=1, no class weights): under-fits 110 sentences, kept for reference."
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    clf = LogisticRegression(max_iter=2000)
    clf.fit(vec.fit_transform(lab['text']), lab['label'])
    return clf.predict(vec.transform(test['text']))


def run_tfidf(lab, pool, test, args, seed):
    "Balanced class weights, C chosen by 3-fold macro-F1 cross-validation on the 110 labels alone."
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # scikit-learn 1.9 deprecation notices about LogisticRegressionCV arguments
        clf = LogisticRegressionCV(Cs=[0.1, 1, 10, 100], cv=3, scoring='f1_macro', class_weight='balanced', max_iter=2000)
        clf.fit(vec.fit_transform(lab['text']), lab['label'])
    return clf.predict(vec.transform(test['text']))


def run_ulmfit(lab, pool, test, args, seed):
    from reviewclf.classifier import TrainConfig, train_model
    kw = dict(size=args.size, pretrained=args.pretrained, seed=seed)
    if args.epochs is not None: kw['epochs'] = args.epochs
    if args.lm_epochs is not None: kw['lm_epochs'] = args.lm_epochs
    if args.class_weights is not None: kw['class_weights'] = None if args.class_weights == 'none' else args.class_weights
    model = train_model(lab, TrainConfig(**kw), unlabelled=pool)
    probs = model.predict_proba(test['text'].tolist())
    return np.asarray(model.classes, dtype=object)[probs.argmax(1)]


METHODS = {'majority class': run_majority, 'TF-IDF + LR (sklearn defaults)': run_tfidf_default,
           'TF-IDF + LR (balanced, C by CV)': run_tfidf, 'ULMFiT (AWD-LSTM)': run_ulmfit}


def markdown_table(results, methods):
    lines = ['| method | accuracy (mean ± sd) | macro-F1 (mean ± sd) | accuracy per seed | macro-F1 per seed |',
             '| --- | --- | --- | --- | --- |']
    for m in methods:
        acc = np.array([r['accuracy'] for r in results[m]]); f1 = np.array([r['macro_f1'] for r in results[m]])
        per = lambda a: ', '.join(f'{x:.3f}' for x in a)
        lines.append(f'| {m} | {acc.mean():.3f} ± {acc.std(ddof=1) if len(acc) > 1 else 0:.3f} '
                     f'| {f1.mean():.3f} ± {f1.std(ddof=1) if len(f1) > 1 else 0:.3f} | {per(acc)} | {per(f1)} |')
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seeds', type=int, default=3, help='number of seeds (draws of the 110 labels), from 0 (default: 3)')
    p.add_argument('--n-labelled', type=int, default=110, help='labelled sentences per draw (default: 110)')
    p.add_argument('--pool-size', type=int, default=None,
                   help='subsample the unlabelled pool (rest of train + Yelp 10k) to this many texts, for speed')
    p.add_argument('--no-yelp', action='store_true', help='pool = rest of the training split only')
    p.add_argument('--pretrained', default='none', help='none, wt103, or a local language-model folder (default: none)')
    p.add_argument('--size', default='small', choices=['small', 'full'])
    p.add_argument('--epochs', type=int, help='classifier epochs (default: the TrainConfig default)')
    p.add_argument('--lm-epochs', type=int, help='language-model epochs (default: the TrainConfig default)')
    p.add_argument('--class-weights', help='auto or none (default: the TrainConfig default)')
    p.add_argument('--methods', default='majority,tfidf-default,tfidf,ulmfit',
                   help='comma list of majority, tfidf-default, tfidf, ulmfit')
    p.add_argument('--out', default='bench/results/semeval.json', help='JSON file to write')
    args = p.parse_args(argv)
    short = {'majority': 'majority class', 'tfidf-default': 'TF-IDF + LR (sklearn defaults)', 'tfidf': 'TF-IDF + LR (balanced, C by CV)', 'ulmfit': 'ULMFiT (AWD-LSTM)'}
    methods = [short[m.strip()] for m in args.methods.split(',')]

    train, test = load_semeval()
    yelp = [] if args.no_yelp else load_yelp_texts()
    print(f'SemEval-2014 restaurants: {len(train)} train, {len(test)} test sentences; '
          f'Yelp texts: {len(yelp)}; classes: {sorted(train.label.unique())}', flush=True)
    results = {m: [] for m in methods}
    for seed in range(args.seeds):
        lab, pool = draw(train, yelp, args.n_labelled, args.pool_size, seed)
        print(f'\nseed {seed}: {len(lab)} labelled {lab.label.value_counts().to_dict()}, pool {len(pool)} texts', flush=True)
        for m in methods:
            t0 = time.perf_counter()
            pred = METHODS[m](lab, pool, test, args, seed)
            r = dict(seed=seed, seconds=round(time.perf_counter() - t0, 1), **scores(test['label'], pred))
            results[m].append(r)
            print(f'  {m}: accuracy {r["accuracy"]:.3f}, macro-F1 {r["macro_f1"]:.3f} ({r["seconds"]} s)', flush=True)
    table = markdown_table(results, methods)
    print('\n' + table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    setup = {k: v for k, v in vars(args).items() if k != 'out'}
    setup.update(n_train_split=len(train), n_test=len(test), n_yelp=len(yelp), python=platform.python_version(),
                 cpus=os.cpu_count())
    out.write_text(json.dumps(dict(setup=setup, results=results, table=table), indent=2))
    print(f'\nwritten to {out}')


if __name__ == '__main__':
    sys.exit(main())
