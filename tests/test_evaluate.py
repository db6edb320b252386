"Tests of reviewclf.evaluate: statistics, runs over seeds and folds, selection, ensembles, the CLI, determinism."
import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier

from reviewclf.data import demo_reviews, stratified_split
from reviewclf.evaluate import (EvalResult, as_recipe, cross_validate, ensemble_probs, expected_max_normal,
                                run_seeds, score_probs, summarize)


class TfidfModel:
    "A fast stand-in recipe whose result depends on its seed, like a network's."
    def __init__(self, train_df, seed):
        keep = np.random.default_rng(seed).random(len(train_df)) < 0.9  # the seed changes the data the model sees
        self.vec = TfidfVectorizer()
        X = self.vec.fit_transform(train_df['text'])
        y = train_df['label'].to_numpy()
        self.clf = SGDClassifier(loss='log_loss', alpha=1e-3, max_iter=5, tol=None, random_state=seed).fit(X[keep], y[keep])
        self.classes = list(self.clf.classes_)

    def predict_proba(self, texts):
        return self.clf.predict_proba(self.vec.transform(list(texts)))


def fit(train_df, valid_df, seed):
    return TfidfModel(train_df, seed)


@pytest.fixture(scope='module')
def labelled():
    d = demo_reviews()
    return d[d['label'].notna()].reset_index(drop=True)


@pytest.fixture(scope='module')
def with_test(labelled):
    train, test = stratified_split(labelled, 0.3, seed=1)
    return run_seeds(train, fit, seeds=6, test_df=test, progress=False), test


def test_score_probs():
    s = score_probs(['a', 'b', 'b'], np.array([[.9, .1], [.3, .7], [.6, .4]]), ['a', 'b'])
    assert s['accuracy'] == pytest.approx(2 / 3)
    assert s['macro_f1'] == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_summarize_intervals():
    s = summarize([0.5, 0.6, 0.7, 0.8])
    assert s['mean'] == pytest.approx(0.65) and s['std'] == pytest.approx(0.129099, abs=1e-6)
    assert s['mean_ci_high'] - s['mean'] == pytest.approx(3.1824 * 0.129099 / 2, abs=1e-3)  # t(0.975, 3)
    assert s['runs_low'] == pytest.approx(0.5075) and s['runs_high'] == pytest.approx(0.7925)  # 2.5 and 97.5 percentiles
    assert (s['min'], s['max'], s['n']) == (0.5, 0.8, 4)


def test_expected_max_normal():
    assert expected_max_normal(10) == pytest.approx(1.5388, abs=1e-3)
    assert expected_max_normal(2) == pytest.approx(1 / math.sqrt(math.pi), abs=1e-6)
    assert expected_max_normal(1) == pytest.approx(0, abs=1e-6)


def test_as_recipe_rejects_other_things():
    assert as_recipe(fit) is fit
    with pytest.raises(TypeError, match='TrainConfig'):
        as_recipe('awd_lstm')


def test_run_seeds_is_reproducible(labelled):
    a = run_seeds(labelled, fit, seeds=4, progress=False).runs.drop(columns='seconds')
    b = run_seeds(labelled, fit, seeds=4, progress=False).runs.drop(columns='seconds')
    pd.testing.assert_frame_equal(a, b)
    assert a['seed'].tolist() == [0, 1, 2, 3]
    assert a['valid_accuracy'].nunique() > 1  # the seeds really change the runs


def test_one_source_at_a_time(labelled):
    "A fixed split with a fixed training seed gives identical runs; varying either one changes them."
    same = run_seeds(labelled, fit, seeds=3, split_seed=0, train_seed=0, progress=False).runs
    assert same['valid_accuracy'].nunique() == 1
    init = run_seeds(labelled, fit, seeds=4, split_seed=0, progress=False).runs
    split = run_seeds(labelled, fit, seeds=4, train_seed=0, progress=False).runs
    assert init['valid_accuracy'].nunique() > 1 and split['valid_accuracy'].nunique() > 1


def test_unseeded_runs_record_their_seeds(labelled):
    r = run_seeds(labelled, fit, seeds=3, seeded=False, progress=False).runs
    assert r['seed'].nunique() == 3
    replay = run_seeds(labelled, fit, seeds=r['seed'].tolist(), progress=False).runs
    assert replay['valid_accuracy'].tolist() == r['valid_accuracy'].tolist()


def test_cross_validate_holds_out_every_row_once(labelled):
    cv = cross_validate(labelled, fit, folds=3, repeats=2, seeds=2, progress=False)
    assert len(cv.runs) == 12
    assert (cv.runs.groupby(['repeat', 'seed'])['n_valid'].sum() == len(labelled)).all()
    s = cv.summary()
    assert list(s.index) == ['valid_accuracy', 'valid_macro_f1']
    assert (s['min'] <= s['mean']).all() and (s['mean'] <= s['max']).all()


def test_cross_validate_names_the_fix_for_tiny_classes(labelled):
    tiny = pd.concat([labelled, pd.DataFrame({'text': ['one odd review'], 'label': ['odd']})], ignore_index=True)
    with pytest.raises(ValueError, match='fewer folds'):
        cross_validate(tiny, fit, folds=3, progress=False)


def test_parallel_runs_match_serial(labelled):
    a = run_seeds(labelled, fit, seeds=2, n_jobs=2, progress=False).runs.drop(columns='seconds')
    b = run_seeds(labelled, fit, seeds=2, progress=False).runs.drop(columns='seconds')
    pd.testing.assert_frame_equal(a, b)


def test_best_of_n_picks_by_validation(with_test):
    res, test = with_test
    b = res.best_of_n()
    best = res.runs['valid_accuracy'].idxmax()
    assert b['picked_valid'] == res.runs.loc[best, 'valid_accuracy']
    assert b['picked_test'] == res.runs.loc[best, 'test_accuracy']
    assert b['optimism'] >= 0 and b['mean_test'] == pytest.approx(res.runs['test_accuracy'].mean())
    sub = res.best_of_n(n=3, draws=200)
    assert sub['groups'] == 200 and sub['expected_optimism_in_std'] == pytest.approx(expected_max_normal(3))
    with pytest.raises(ValueError, match='number of runs'):
        res.best_of_n(n=7)


def test_ensembles(with_test):
    res, test = with_test
    assert res.ensembles(1)['test_accuracy'].tolist() == res.runs['test_accuracy'].tolist()
    e = res.ensembles(3)
    assert len(e) == 2 and e['runs'].tolist() == [[0, 1, 2], [3, 4, 5]]
    probs = ensemble_probs(res.test_probs[:3])
    assert np.allclose(probs.sum(1), 1)
    assert e['test_accuracy'][0] == score_probs(test['label'], probs, res.classes)['accuracy']


def test_selection_needs_a_test_set(labelled):
    res = run_seeds(labelled, fit, seeds=2, progress=False)
    with pytest.raises(ValueError, match='test_df'):
        res.best_of_n()
    with pytest.raises(ValueError, match='--test'):
        res.ensembles(2)


def test_save_report(with_test, tmp_path):
    res, _ = with_test
    res.save(tmp_path)
    r = json.loads((tmp_path/'report.json').read_text())
    assert len(r['runs']) == 6 and set(r['summary']) == {'valid_accuracy', 'valid_macro_f1', 'test_accuracy', 'test_macro_f1'}
    assert r['best_of_n']['accuracy']['n'] == 6
    assert (tmp_path/'runs.png').stat().st_size > 1000


def _core():
    return pytest.importorskip('reviewclf.classifier', reason='the ULMFiT core (reviewclf.classifier) is not built yet')


def test_cli_evaluate(labelled, tmp_path, capsys):
    _core()
    from reviewclf.cli import main
    src = tmp_path/'reviews.csv'
    labelled.rename(columns={'text': 'review', 'label': 'topic'}).to_csv(src, index=False)
    rc = main(['evaluate', str(src), '--text-col', 'review', '--label-col', 'topic', '--seeds', '2', '--folds', '2',
               '--backbone', 'embeddings', '--out', str(tmp_path/'report')])
    assert rc == 0
    r = json.loads((tmp_path/'report'/'report.json').read_text())
    assert len(r['runs']) == 4 and sorted({x['seed'] for x in r['runs']}) == [0, 1]
    assert (tmp_path/'report'/'runs.png').is_file()
    out = capsys.readouterr().out
    assert 'valid_accuracy' in out and '95% CI of mean' in out


def test_cli_evaluate_error_names_the_fix(labelled, tmp_path, capsys):
    _core()
    from reviewclf.cli import main
    src = tmp_path/'reviews.csv'
    labelled.to_csv(src, index=False)
    rc = main(['evaluate', str(src), '--label-col', 'topic', '--out', str(tmp_path/'report')])
    assert rc == 2 and '--label-col' in capsys.readouterr().err


def test_same_seed_same_predictions_on_cpu(labelled):
    "Two CPU runs of the AWD-LSTM recipe with the same seed give bit-identical probabilities."
    clf = _core()
    train, valid = stratified_split(labelled, 0.2, seed=0)
    cfg = clf.TrainConfig(size='small', pretrained='none', lm_epochs=1, epochs=1, seed=3)
    p1 = clf.train_model(train, cfg).predict_proba(valid['text'].tolist())
    p2 = clf.train_model(train, cfg).predict_proba(valid['text'].tolist())
    assert np.array_equal(p1, p2)
