"""What the unlabelled text is worth: SemEval-2014 restaurants, 110 labelled sentences, several seeds.

Recipes (all scored on the official gold test sentences):
  tfidf_lr_88 / tfidf_lr_110  TF-IDF + logistic regression on the 88 training rows / on all 110 labelled rows
  scratch                     AWD-LSTM, no pre-training (LM trained on the labelled texts only)
  wt2                         + the WikiText-2 pre-trained LM (fine-tuned on the labelled texts)
  wt2_indomain                + in-domain LM fine-tuning on Yelp texts and the SemEval train sentences (once, no labels)
  wt2_indomain_selftrain      + guarded self-training on the rest of the train sentences

Run (about an hour on a busy 2-core CPU with the defaults):
  nice -n 10 python bench/bench_semisup.py --lm runs/wt2_small --seeds 0 1 2 --yelp 1500
"""
import argparse, json, os, platform, sys, time, warnings
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

warnings.filterwarnings('ignore')
from reviewclf.classifier import TrainConfig, train_model
from reviewclf.data import load_dataset, stratified_sample, stratified_split
from reviewclf.evaluate import score_probs
from reviewclf.semisup import adapt_lm, self_train, train_tfidf


RECIPES = ('tfidf_lr_88', 'tfidf_lr_110', 'scratch', 'wt2', 'wt2_indomain', 'wt2_indomain_selftrain')


def scores(model, df):
    return score_probs(df['label'].astype(str), model.predict_proba(df['text'].tolist()), model.classes)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--lm', required=True, help='the WikiText-2 LM folder (reviewclf pretrain --out ...)')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--n-labelled', type=int, default=110)
    ap.add_argument('--yelp', type=int, default=1500, help='Yelp reviews used for in-domain LM fine-tuning (of 10,000)')
    ap.add_argument('--lm-epochs', type=int, default=2, help='in-domain LM fine-tuning epochs')
    ap.add_argument('--rounds', type=int, default=2, help='self-training rounds')
    ap.add_argument('--per-round', type=int, default=300, help='pseudo-labels per self-training round')
    ap.add_argument('--threshold', type=float, default=0.7)
    ap.add_argument('--work', default='runs/bench_semisup', help='folder for the in-domain LM')
    ap.add_argument('--out', default='bench/results/semisup.csv')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--recipes', nargs='+', default=list(RECIPES), choices=list(RECIPES), help='run only these recipes')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out, work = Path(a.out), Path(a.work); out.parent.mkdir(parents=True, exist_ok=True); work.mkdir(parents=True, exist_ok=True)

    sem = load_dataset('semeval_restaurants', progress=False)
    train, test = sem.query("split == 'train'"), sem.query("split == 'test'")
    yelp = load_dataset('yelp_10k', progress=False)['text'].sample(n=min(a.yelp, 10000), random_state=0).tolist()

    indomain = work/'lm_indomain'
    if {'wt2_indomain', 'wt2_indomain_selftrain'} & set(a.recipes) and not (indomain/'lm.safetensors').exists():
        t = time.time()
        lm = adapt_lm(yelp + train['text'].tolist(), a.lm, indomain, epochs=a.lm_epochs, quiet=False)
        print(f"in-domain LM: {len(yelp)} Yelp reviews + {len(train)} SemEval train sentences, {a.lm_epochs} epochs, "
              f"perplexity {lm.ppl_before:.1f} -> {lm.ppl_after:.1f}, {time.time() - t:.0f}s", flush=True)

    base = TrainConfig(size='small', verbose=False)
    recipes = {'scratch': replace(base, pretrained='none', lm_epochs=2),
               'wt2': replace(base, pretrained=str(a.lm), lm_epochs=1),
               'wt2_indomain': replace(base, pretrained=str(indomain), lm_epochs=1)}
    rows = pd.read_csv(out).to_dict('records') if out.exists() else []  # a rerun adds what is missing
    done = {(r['seed'], r['recipe']) for r in rows} | {(s, r) for s in a.seeds for r in RECIPES if r not in a.recipes}

    def record(seed, recipe, model, secs, **extra):
        rows.append(dict(seed=seed, recipe=recipe, **{f'test_{k}': v for k, v in scores(model, test).items()},
                         seconds=round(secs, 1), **extra))
        pd.DataFrame(rows).to_csv(out, index=False)
        print(rows[-1], flush=True)

    for seed in a.seeds:
        labelled = stratified_sample(train, a.n_labelled, seed=seed)
        trn, val = stratified_split(labelled, valid_pct=0.2, seed=seed)
        pool = train.drop(labelled.index)
        for name, df in (('tfidf_lr_88', trn), ('tfidf_lr_110', labelled)):
            if (seed, name) not in done: t = time.time(); record(seed, name, train_tfidf(df), time.time() - t)
        models = {}
        for name, cfg in recipes.items():
            if (seed, name) in done and not (name == 'wt2_indomain' and (seed, 'wt2_indomain_selftrain') not in done): continue
            t = time.time(); models[name] = train_model(trn, replace(cfg, seed=seed), valid_df=val)
            if (seed, name) not in done: record(seed, name, models[name], time.time() - t)
        if (seed, 'wt2_indomain_selftrain') in done: continue
        fit = lambda d, v: train_model(d, replace(recipes['wt2_indomain'], seed=seed), valid_df=v)
        t = time.time()
        model, hist = self_train(trn, pool['text'], fit, val, rounds=a.rounds, n_per_round=a.per_round,
                                 threshold=a.threshold, pool_labels=pool['label'], model=models['wt2_indomain'])
        kept = hist[hist['kept']]
        record(seed, 'wt2_indomain_selftrain', model, time.time() - t, rounds_kept=int(kept['round'].max()),
               pseudo_labels=int(kept['pseudo_total'].max()),
               pseudo_acc=float(hist['pseudo_acc'].iloc[1]) if 'pseudo_acc' in hist else None)

    notes = dict(machine=f"{platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs, torch threads {a.threads}",
                 args=vars(a), n_test=len(test), n_pool=len(train) - a.n_labelled, python=sys.version.split()[0])
    out.with_suffix('.json').write_text(json.dumps(notes, indent=2))
    print(pd.DataFrame(rows).groupby('recipe', sort=False)['test_macro_f1'].agg(['mean', 'std', 'count']).round(3))


if __name__ == '__main__':
    main()
