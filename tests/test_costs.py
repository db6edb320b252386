"Cost matrices, the minimum-expected-cost decision, the weighted-loss correction and temperature scaling."
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from reviewclf.costs import (CORNER, CostMatrixError, ExpectedCost, apply_temperature, conditional_risk, cost_confusion,
                             cost_scores, decide_with_costs, ece, expected_cost, fit_temperature, is_true_class_cost,
                             min_cost_decision, nll, ordinal_costs, read_costs, reweight_probs, unweight_probs,
                             weights_from_costs, write_costs)

CLASSES = ['lost job', 'career change', 'current job']
# rows predicted, columns true: a lost job taken for a current job costs 5
C = np.array([[0, 1, 1], [1, 0, 1], [5, 1, 0]], dtype=float)


def test_csv_roundtrip_is_self_describing(tmp_path):
    path = write_costs(C, CLASSES, tmp_path / 'costs.csv')
    text = path.read_text()
    assert text.splitlines()[0] == f'{CORNER},lost job,career change,current job'
    assert text.splitlines()[3] == 'current job,5,1,0'
    np.testing.assert_array_equal(read_costs(path, CLASSES), C)


def test_csv_in_another_order_is_reordered(tmp_path):
    path = tmp_path / 'costs.csv'
    path.write_text('predicted\\true, current job,lost job,career change\n'
                    'career change,1,1,0\ncurrent job,0,5,1\nlost job,1,0,1\n')
    np.testing.assert_array_equal(read_costs(path, CLASSES), C)


def test_csv_with_truth_on_rows_is_transposed(tmp_path):
    path = tmp_path / 'costs.csv'
    pd.DataFrame(C.T, index=CLASSES, columns=CLASSES).to_csv(path, index_label='true/predicted')
    np.testing.assert_array_equal(read_costs(path, CLASSES), C)


def test_integer_labels_match_string_classes(tmp_path):
    path = write_costs(ordinal_costs(5), [1, 2, 3, 4, 5], tmp_path / 'stars.csv')
    got = read_costs(path, ['1', '2', '3', '4', '5'])
    assert got[4, 0] == 4 and got[0, 1] == 1


def test_dict_of_rows_and_array():
    rows = {p: {t: C[i, j] for j, t in enumerate(CLASSES)} for i, p in enumerate(CLASSES)}
    np.testing.assert_array_equal(read_costs(rows, CLASSES), C)
    np.testing.assert_array_equal(read_costs(C.tolist(), CLASSES), C)


@pytest.mark.parametrize('bad, msg', [
    (np.ones((2, 3)), 'must be 3 x 3'),
    (pd.DataFrame(C[:2, :2], index=CLASSES[:2], columns=CLASSES[:2]), 'must be 3 x 3'),
    (pd.DataFrame(C, index=['lost job', 'career change', 'curent job'], columns=CLASSES), "extra ['curent job']"),
    (pd.DataFrame(C, index=CLASSES, columns=['lost job', 'career change', 'other']), "lack ['current job']"),
    (-C, '>= 0'),
    (np.zeros((3, 3)), 'positive cost'),
    (pd.DataFrame(C, index=CLASSES, columns=CLASSES).astype(object).where(C != 5, 'high'), 'not numbers'),
])
def test_invalid_matrices_raise_with_the_fix(bad, msg):
    with pytest.raises(CostMatrixError, match=None) as e:
        read_costs(bad, CLASSES)
    assert msg in str(e.value)
    assert isinstance(e.value, ValueError)


def test_missing_file_names_the_template(tmp_path):
    with pytest.raises(CostMatrixError, match='cost_template'):
        read_costs(tmp_path / 'nope.csv', CLASSES)


def test_nonzero_diagonal_warns_but_reads():
    with pytest.warns(UserWarning, match='correct predictions cost'):
        got = read_costs(C + np.eye(3), CLASSES)
    np.testing.assert_array_equal(np.diag(got), [1, 1, 1])


def test_expected_cost_by_hand():
    # truth lost, lost, change, current; predicted current (5), change (1), change (0), current (0)
    assert expected_cost([0, 0, 1, 2], [2, 1, 1, 2], C) == pytest.approx(1.5)
    assert expected_cost(['lost job', 'current job'], ['current job', 'current job'], C, CLASSES) == pytest.approx(2.5)
    with pytest.raises(CostMatrixError, match='not among the classes'):
        expected_cost(['fired'], ['lost job'], C, CLASSES)


def test_confusion_orientation_matches_costs():
    counts = cost_confusion([0, 0, 1, 2], [2, 1, 1, 2], 3)
    np.testing.assert_array_equal(counts, [[0, 0, 0], [1, 1, 0], [1, 0, 1]])
    assert (counts * C).sum() / counts.sum() == pytest.approx(1.5)


def test_min_cost_decision_by_hand():
    p = np.array([[0.3, 0.2, 0.5], [0.1, 0.1, 0.8], [0.2, 0.5, 0.3]])
    # row 0: risks lost 0.2+0.5, change 0.3+0.5, current 5*0.3+0.2
    np.testing.assert_allclose(conditional_risk(p, C)[0], [0.7, 0.8, 1.7])
    np.testing.assert_array_equal(min_cost_decision(p, C), [0, 2, 1])
    np.testing.assert_array_equal(min_cost_decision(p, 1 - np.eye(3)), p.argmax(1))
    with pytest.raises(CostMatrixError, match=r'expected \(n, 3\)'):
        min_cost_decision(p[:, :2], C)


def test_ordinal_decision_picks_the_median_not_the_mode():
    # |i-j| costs: the cheapest prediction is a median of p. Mode is 1 star, median is 3 stars.
    p = np.array([[0.4, 0.0, 0.2, 0.0, 0.4]])
    assert min_cost_decision(p, ordinal_costs(5))[0] == 2
    # predicting 2 stars: 1*0.4 + 1*0.2 + 3*0.4 = 1.8
    np.testing.assert_allclose(conditional_risk(p, ordinal_costs(5))[0], [2.0, 1.8, 1.6, 1.8, 2.0])


def test_decide_with_costs_keeps_most_probable():
    df = pd.DataFrame({'text': ['a', 'b'], 'pred': ['current job', 'current job'], 'prob_lost job': [0.3, 0.1],
                       'prob_career change': [0.2, 0.1], 'prob_current job': [0.5, 0.8]})
    out = decide_with_costs(df, C, CLASSES)
    assert list(out.pred_min_cost) == ['lost job', 'current job']
    assert list(out.pred) == ['current job', 'current job']
    np.testing.assert_allclose(out.expected_cost, [0.7, 0.6])
    assert 'pred_min_cost' not in df.columns
    with pytest.raises(CostMatrixError, match='model.predict'):
        decide_with_costs(df.drop(columns='prob_lost job'), C, CLASSES)


def test_weights_from_costs_and_true_class_check():
    with pytest.warns(UserWarning, match='min_cost_decision'):
        w = weights_from_costs(C)
    np.testing.assert_allclose(w, [1.8, 0.6, 0.6])
    assert not is_true_class_cost(C)
    assert is_true_class_cost([[0, 3, 1], [3, 0, 1], [3, 3, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        np.testing.assert_allclose(weights_from_costs([[0, 3, 1], [3, 0, 1], [3, 3, 0]]), [9 / 7, 9 / 7, 3 / 7])


def test_reweight_and_unweight_by_hand():
    q = reweight_probs([[0.5, 0.3, 0.2]], [1, 2, 3])
    np.testing.assert_allclose(q, [[0.5 / 1.7, 0.6 / 1.7, 0.6 / 1.7]])
    np.testing.assert_allclose(unweight_probs(q, [1, 2, 3]), [[0.5, 0.3, 0.2]])
    np.testing.assert_allclose(unweight_probs([[0.25, 0.25, 0.5]], [2, 1, 1]),
                               [[0.125 / 0.875, 0.25 / 0.875, 0.5 / 0.875]])
    with pytest.raises(CostMatrixError, match='> 0'):
        unweight_probs(q, [1, 0, 3])


def test_weighted_cross_entropy_learns_reweighted_probs():
    from fastai.losses import CrossEntropyLossFlat
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    logits = torch.zeros(3, requires_grad=True)
    loss_func = CrossEntropyLossFlat(weight=torch.tensor([1., 2., 3.]))
    opt = torch.optim.LBFGS([logits], max_iter=100)

    def closure():
        opt.zero_grad()
        loss = loss_func(logits.expand(100, 3), labels)
        loss.backward()
        return loss
    opt.step(closure)
    np.testing.assert_allclose(logits.softmax(0).detach().numpy(), [0.5 / 1.7, 0.6 / 1.7, 0.6 / 1.7], atol=1e-4)


def test_weighted_argmax_equals_cost_decision_for_true_class_costs():
    c = np.array([3., 1., 2.])
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=500)
    np.testing.assert_array_equal(reweight_probs(probs, c).argmax(1), min_cost_decision(probs, np.tile(c, (3, 1)) * (1 - np.eye(3))))


def test_temperature_by_hand():
    z = np.tile([0., 2.], (8, 1))
    y = np.array([1, 1, 1, 0, 1, 1, 1, 0])
    T = fit_temperature(z, y)
    assert T == pytest.approx(2 / np.log(3), abs=1e-3)
    np.testing.assert_allclose(apply_temperature(z, T)[0], [0.25, 0.75], atol=1e-3)
    e = np.exp(z[0]) / np.exp(z[0]).sum()
    assert fit_temperature(np.tile(e, (8, 1)), y) == pytest.approx(T, abs=1e-3)
    assert nll(apply_temperature(z, T), y) < nll(apply_temperature(z, 1.0), y)


def test_nll_and_ece_by_hand():
    pp, yy = np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1])
    assert ece(pp, yy) == pytest.approx(0.35)
    assert nll(pp, yy) == pytest.approx(-(np.log(0.9) + np.log(0.4)) / 2)


def test_cost_scores_by_hand():
    sc = cost_scores([0, 0, 1, 2], [2, 1, 1, 2], C)
    assert sc == pytest.approx(dict(accuracy=0.5, macro_f1=(0 + 2 / 3 + 2 / 3) / 3, expected_cost=1.5))


def test_expected_cost_metric_in_a_learner_that_exports(tmp_path):
    import fastai.callback.progress  # noqa: F401  (adds Learner.no_bar)
    from fastai.data.core import Datasets
    from fastai.data.transforms import ItemGetter
    from fastai.learner import Learner, load_learner
    from fastai.losses import CrossEntropyLossFlat
    torch.manual_seed(0)
    x, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    dsets = Datasets(list(zip(x, y)), tfms=[[ItemGetter(0)], [ItemGetter(1)]], splits=[range(30), range(30, 40)])
    learn = Learner(dsets.dataloaders(bs=8, device='cpu'), torch.nn.Linear(4, 3), loss_func=CrossEntropyLossFlat(),
                    metrics=ExpectedCost(C), path=tmp_path)
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, 0.01)
        preds, targs = learn.get_preds()
        got = learn.validate()[1]
    assert got == pytest.approx(expected_cost(targs.numpy(), preds.argmax(1).numpy(), C))
    assert learn.metrics[0].name == 'expected_cost'
    learn.export(tmp_path / 'export.pkl')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loaded = load_learner(tmp_path / 'export.pkl')
    np.testing.assert_array_equal(loaded.metrics[0].C, C)
