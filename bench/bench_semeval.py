"""SemEval-2014 restaurants, topic classes, from 110 labels: ULMFiT vs TF-IDF + logistic regression vs majority class.

Per seed: 110 sentences drawn stratified from the official training split are the labelled set; the rest of that
split plus Yelp review texts form the unlabelled pool (language-model stage only); every method is scored on the
official test split. Prints a markdown table (mean ± standard deviation over seeds) and writes JSON.

The language-model stage sees texts, never labels, and the 110 labelled sentences plus the rest of the split are the
whole training split whatever the seed; so by default (`--lm-once`) the AWD-LSTM language model is trained once on
all training-split sentences plus the Yelp texts, saved, and each seed's classifier starts from it (`pretrained=` that
folder, no further LM epochs). `--lm-per-seed` instead runs `train_model` end to end per seed, as `reviewclf train`
does (slower by the number of seeds).

    nice -n 10 python bench/bench_semeval.py --seeds 3 --pool-size 3000 --out bench/results/semeval.json
"""
import argparse
import json
import os
import platform
import sys
import tempfile
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


def yelp_part(train, yelp, n_labelled, pool_size):
    "Yelp texts in the pool: all of them, or a fixed random subsample so the pool has `pool_size` texts."
    if pool_size is None: return yelp
    n = max(0, pool_size - (len(train) - n_labelled))
    rng = np.random.default_rng(0)
    return [yelp[i] for i in sorted(rng.choice(len(yelp), min(n, len(yelp)), replace=False))]


def draw(train, yelp, n_labelled, seed):
    "The labelled draw and the unlabelled pool (rest of the split, then Yelp) for one seed."
    lab, rest = train_test_split(train, train_size=n_labelled, stratify=train['label'], random_state=seed)
    return lab.reset_index(drop=True), rest['text'].tolist() + yelp


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


def shared_lm(texts, args):
    "Train the language model once on `texts`; returns its folder."
    from reviewclf.lm import fine_tune_lm
    kw = dict(size=args.size, pretrained=args.pretrained, seed=0)
    if args.lm_epochs is not None: kw['epochs'] = args.lm_epochs
    t0 = time.perf_counter()
    lm = fine_tune_lm(texts, quiet=True, **kw)
    folder = Path(args.work or tempfile.mkdtemp(prefix='reviewclf_bench_'))/'semeval_lm'
    lm.save(folder)
    print(f'language model: {lm} in {time.perf_counter() - t0:.0f} s, saved to {folder}', flush=True)
    info = dict(seconds=round(time.perf_counter() - t0, 1), ppl_before=lm.ppl_before, ppl_after=lm.ppl_after,
                n_texts=len(texts), **kw)
    (folder/'bench_info.json').write_text(json.dumps(info, indent=2))
    return folder, info


def run_ulmfit(lab, pool, test, args, seed):
    from reviewclf.classifier import TrainConfig, train_model
    kw = dict(size=args.size, pretrained=args.pretrained, seed=seed, verbose=False)
    if args.lm_dir is not None: kw.update(pretrained=str(args.lm_dir), lm_epochs=0)
    elif args.lm_epochs is not None: kw['lm_epochs'] = args.lm_epochs
    if args.epochs is not None: kw['epochs'] = args.epochs
    if args.class_weights is not None: kw['class_weights'] = None if args.class_weights == 'none' else args.class_weights
    # Train on all 110 like the baselines; nothing is selected on validation rows, so two per class (taken from the
    # 110) only feed the training log.
    valid = lab.groupby('label', group_keys=False).head(2)
    model = train_model(lab, TrainConfig(**kw), valid_df=valid, unlabelled=None if args.lm_dir is not None else pool)
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
                   help='unlabelled pool size: the rest of the training split plus a random Yelp subsample filling '
                        'up to this many texts, for speed (default: all 10k Yelp texts)')
    p.add_argument('--lm-per-seed', dest='lm_once', action='store_false',
                   help='fine-tune the language model inside train_model for every seed (default: once, shared)')
    p.add_argument('--shared-lm', metavar='FOLDER',
                   help="reuse the language model an earlier run saved (its folder's bench_info.json says how it was made)")
    p.add_argument('--work', default=None, help='folder for the shared language model (default: a temporary folder)')
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

    if 'ULMFiT (AWD-LSTM)' in methods:
        import reviewclf.classifier  # noqa: F401  (import once, up front: a long run sees one version of the code)
    train, test = load_semeval()
    yelp = [] if args.no_yelp else yelp_part(train, load_yelp_texts(), args.n_labelled, args.pool_size)
    print(f'SemEval-2014 restaurants: {len(train)} train, {len(test)} test sentences; '
          f'Yelp texts: {len(yelp)}; classes: {sorted(train.label.unique())}', flush=True)
    results = {m: [] for m in methods}
    args.lm_dir, lm_info = None, None
    if 'ULMFiT (AWD-LSTM)' in methods and args.shared_lm:
        args.lm_dir = Path(args.shared_lm)
        info = args.lm_dir/'bench_info.json'
        lm_info = json.loads(info.read_text()) if info.exists() else None
        print(f'language model: reusing {args.lm_dir} ({lm_info})', flush=True)
    elif 'ULMFiT (AWD-LSTM)' in methods and args.lm_once:
        args.lm_dir, lm_info = shared_lm(train['text'].tolist() + yelp, args)
    for seed in range(args.seeds):
        lab, pool = draw(train, yelp, args.n_labelled, seed)
        print(f'\nseed {seed}: {len(lab)} labelled {lab.label.value_counts().to_dict()}, pool {len(pool)} texts', flush=True)
        for m in methods:
            t0 = time.perf_counter()
            pred = METHODS[m](lab, pool, test, args, seed)
            r = dict(seed=seed, seconds=round(time.perf_counter() - t0, 1), **scores(test['label'], pred))
            results[m].append(r)
            print(f'  {m}: accuracy {r["accuracy"]:.3f}, macro-F1 {r["macro_f1"]:.3f} ({r["seconds"]} s)', flush=True)
        write_json(args, results, None, train, test, yelp, lm_info)  # partial results survive an interrupted run
    table = markdown_table(results, methods)
    print('\n' + table)
    write_json(args, results, table, train, test, yelp, lm_info)
    print(f'\nwritten to {args.out}')


def write_json(args, results, table, train, test, yelp, lm_info):
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    setup = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != 'out'}
    setup.update(n_train_split=len(train), n_test=len(test), n_yelp_in_pool=len(yelp), shared_lm=lm_info,
                 python=platform.python_version(), cpus=os.cpu_count())
    out.write_text(json.dumps(dict(setup=setup, results=results, table=table), indent=2))


if __name__ == '__main__':
    sys.exit(main())
