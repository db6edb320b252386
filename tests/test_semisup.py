"Semi-supervised learning: pseudo-label selection, self-training with and without its guard, in-domain LM fine-tuning."
import numpy as np
import pandas as pd
import pytest

from reviewclf.semisup import _quotas, adapt_lm, gold_f1, pool_prior, select_confident, self_train, train_tfidf


@pytest.fixture
def semeval(data_dir):
    df = pd.read_csv(data_dir/'semeval2014_restaurants'/'restaurants_aspect_category_single.csv')
    train, test = df.query("split == 'train'"), df.query("split == 'test'")
    labelled = train.groupby('label').sample(12, random_state=0)
    return labelled, train.drop(labelled.index), test


def test_quotas_follow_the_prior():
    assert list(_quotas(10, [0.5, 0.3, 0.2])) == [5, 3, 2]
    assert _quotas(9, [1, 1, 1, 1]).sum() == 9


def test_select_confident_threshold_and_quotas():
    p = np.array([[.95, .05], [.9, .1], [.85, .15], [.3, .7], [.45, .55]])
    idx, pred = select_confident(p, 2)
    assert list(idx) == [0, 1] and list(pred) == [0, 0]
    idx, pred = select_confident(p, 2, prior=[.5, .5])
    assert sorted(pred) == [0, 1] and list(idx) == [0, 3]
    idx, _ = select_confident(p, 5, threshold=0.6)
    assert 4 not in idx and len(idx) == 4
    assert np.allclose(pool_prior(p), p.mean(0))


def test_self_training_is_backbone_agnostic(semeval):
    "Any object with `classes` and `predict_proba` works; the table has one row per round tried."
    labelled, pool, test = semeval
    calls = []
    def fit(df, valid):
        calls.append(len(df)); return train_tfidf(df)
    model, hist = self_train(labelled, pool['text'], fit, test, rounds=2, n_per_round=100, threshold=0.,
                             guard=False, pool_labels=pool['label'])
    assert calls == [len(labelled), len(labelled) + 100, len(labelled) + 200]
    assert list(hist['round']) == [0, 1, 2] and hist['pseudo_acc'].between(0, 1).iloc[1:].all()
    assert hasattr(model, 'predict_proba')


def test_guard_stops_when_validation_drops(semeval):
    "With the guard, a round that lowers validation macro-F1 is discarded and the previous model kept."
    labelled, pool, test = semeval
    scores = iter([0.5, 0.4])
    class Fixed:
        classes = sorted(labelled['label'].unique())
        def __init__(self): self.score = next(scores)
        def predict_proba(self, texts):
            return np.tile(np.eye(len(self.classes))[0], (len(texts), 1)) * 0.9 + 0.02
    import reviewclf.semisup as ss
    first = []
    def fit(df, valid): m = Fixed(); first.append(m); return m
    orig = ss.gold_f1
    ss.gold_f1 = lambda m, df: m.score
    try: model, hist = ss.self_train(labelled, pool['text'], fit, test, rounds=3, n_per_round=50)
    finally: ss.gold_f1 = orig
    assert model is first[0] and list(hist['kept']) == [True, False] and len(hist) == 2


def test_unguarded_self_training_drifts(semeval):
    "Confirmation bias: without quotas the pseudo-labels over-represent one class far beyond its pool share."
    labelled, pool, test = semeval
    _, hist = self_train(labelled, pool['text'], train_tfidf, test, rounds=2, n_per_round=600, threshold=0.,
                         balance=False, guard=False, pool_labels=pool['label'])
    top = max(hist[c].iloc[-1] for c in hist.columns if c.startswith('share_'))
    assert top > pool['label'].value_counts(normalize=True).max() + 0.1


def test_adapt_lm_lowers_in_domain_perplexity(tmp_path, semeval):
    from reviewclf.lm import load_lm
    from reviewclf.pretrain import shipped_lm
    _, pool, _ = semeval
    lm = adapt_lm(pool['text'][:300], shipped_lm(), tmp_path/'lm', epochs=1)
    assert lm.ppl_after < lm.ppl_before
    _, vocab, _ = load_lm(tmp_path/'lm')
    assert vocab[:len(load_lm(shipped_lm())[1])] == load_lm(shipped_lm())[1]
