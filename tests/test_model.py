"ULMFiT core (lm.py, classifier.py): determinism, prediction order, pickle-free loading, schedules and errors."
import json, os, socket, subprocess, sys, warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from reviewclf.classifier import (ReviewModel, Stage, TrainConfig, as_stages, check_moms, class_weight_values,
                                  load_encoder_weights, load_model, roc_auc_present, scale_schedule, train_model)
from reviewclf.lm import (_online, clas_config, fine_tune_lm, generate, lm_config, load_lm, pretrained_lm, save_lm,
                          seed_everything)

torch.set_num_threads(1)  # tiny models: threads only add contention
ROOT = Path(__file__).resolve().parents[1]

_WORDS = {'lost job': ['laid', 'off', 'redundancy', 'fired', 'unemployed'],
          'career change': ['switch', 'new', 'field', 'retrain', 'pivot'],
          'current job': ['manager', 'promotion', 'team', 'raise', 'boss']}
_FILLER = ['the', 'coach', 'helped', 'me', 'with', 'my', 'plan', 'and', 'it', 'was', 'good', 'very']

def _reviews(n, seed, labelled=True):
    "Synthetic reviews whose class shows in a few keywords."
    rng = np.random.default_rng(seed)
    classes = list(_WORDS)
    rows = []
    for i in range(n):
        c = classes[i % 3]
        words = list(rng.choice(_FILLER, 8)) + list(rng.choice(_WORDS[c], 3))
        rng.shuffle(words)
        rows.append(dict(text=' '.join(words).capitalize() + '.', label=c if labelled else None))
    return pd.DataFrame(rows)

TINY = dict(size='small', lm_epochs=1, bs=8, seq_len=24, verbose=False, device='cpu',
            schedule=[Stage(1, 1, 2e-2), Stage('all', 1, 5e-3)])

@pytest.fixture(scope='module')
def data():
    return _reviews(36, 0), _reviews(12, 1), _reviews(30, 2, labelled=False)

@pytest.fixture(scope='module')
def model(data):
    train, valid, pool = data
    return train_model(train, TrainConfig(**TINY, class_weights='auto', seed=3), valid_df=valid, unlabelled=pool)

@pytest.fixture(scope='module')
def saved(model, tmp_path_factory):
    return model.save(tmp_path_factory.mktemp('m')/'model')

def test_same_seed_same_probabilities(data, model):
    train, valid, pool = data
    again = train_model(train, TrainConfig(**TINY, class_weights='auto', seed=3), valid_df=valid, unlabelled=pool)
    texts = list(valid.text)
    assert np.array_equal(model.predict_proba(texts), again.predict_proba(texts))

def test_seed_everything_repeats_draws():
    seed_everything(5); a = torch.rand(3)
    seed_everything(5); assert torch.equal(a, torch.rand(3))

def test_predict_keeps_input_order_and_columns(model, data):
    df = pd.concat([data[0], data[2]]).reset_index(drop=True).assign(id=lambda d: range(len(d)))
    probs = model.predict_proba(df.text)
    perm = np.random.default_rng(0).permutation(len(df))
    np.testing.assert_allclose(model.predict_proba(df.text.iloc[perm]), probs[perm], atol=1e-5)
    out = model.predict(df.iloc[perm], bs=7)
    assert list(out['id']) == list(df['id'].iloc[perm])
    assert list(out.columns[-4:]) == ['pred'] + [f'prob_{c}' for c in model.classes]
    np.testing.assert_allclose(out.filter(like='prob_').sum(axis=1), 1, atol=1e-5)
    assert (out['pred'] == np.asarray(model.classes)[probs[perm].argmax(1)]).all()

def test_prediction_on_unseen_texts(model):
    texts = ['Zorblax quintessential flibbertigibbet!!!', '', 'A', 'x ' * 500]
    probs = model.predict_proba(texts)
    assert probs.shape == (4, 3) and np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert model.predict([]).shape[0] == 0

def test_predict_proba_takes_a_frame_or_one_string(model, data):
    df = data[2].reset_index(drop=True)
    np.testing.assert_allclose(model.predict_proba(df), model.predict_proba(df.text), atol=1e-6)
    assert model.predict_proba(df.text[0]).shape == (1, len(model.classes))
    with pytest.raises(ValueError, match="no 'text' column"): model.predict_proba(df.rename(columns={'text': 'body'}))

def test_folder_contents(saved, model):
    names = {p.name for p in saved.iterdir()}
    assert {'config.json', 'vocab.json', 'model.safetensors', 'metrics.json', 'losses.png', 'valid_preds.csv'} <= names
    vp = pd.read_csv(saved/'valid_preds.csv')
    assert list(vp.columns) == ['label'] + [f'prob_{c}' for c in model.classes]
    m = json.loads((saved/'metrics.json').read_text())
    assert {'accuracy', 'macro_f1', 'roc_auc', 'lm_perplexity_before', 'lm_perplexity_after'} <= set(m)
    assert m['lm_perplexity_after'] < m['lm_perplexity_before']

_FRESH = r'''
import json, pickle, sys, torch
def refuse(*a, **k): raise RuntimeError('unpickling attempted')
pickle.load = pickle.loads = torch.load = refuse
from reviewclf.classifier import load_model
m = load_model(sys.argv[1])
print(json.dumps(m.predict_proba(json.loads(sys.argv[2])).tolist()))
'''

def test_load_in_fresh_process_without_pickle(saved, model, data):
    texts = list(data[1].text)
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    r = subprocess.run([sys.executable, '-c', _FRESH, str(saved), json.dumps(texts)], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    np.testing.assert_allclose(np.array(json.loads(r.stdout.strip().splitlines()[-1])), model.predict_proba(texts),
                               atol=1e-5)

def test_class_weights_survive_save_and_load(saved, model):
    loaded = load_model(saved, device='cpu')
    assert loaded.class_weights == model.class_weights and len(loaded.class_weights) == 3
    assert torch.allclose(loaded.loss_func.func.weight, torch.tensor(model.class_weights))
    assert loaded.loss_func.func.weight.device == loaded.device

def test_class_weight_values():
    auto = class_weight_values('auto', ['a'] * 6 + ['b'] * 3, ['a', 'b'])
    np.testing.assert_allclose(auto, [2/3, 4/3])
    assert class_weight_values({'b': 1, 'a': 3}, [], ['a', 'b']) == [3., 1.]
    with pytest.raises(ValueError, match="missing \\['b'\\]"): class_weight_values({'a': 1}, [], ['a', 'b'])

def test_moms_two_values_converted_with_warning():
    with pytest.warns(UserWarning, match='three values'):
        assert check_moms((0.95, 0.85)) == (0.95, 0.85, 0.95)
    with pytest.warns(UserWarning):
        assert as_stages([dict(n_groups=2, epochs=1, lr=1e-2, moms=(0.9, 0.8))])[0].moms == (0.9, 0.8, 0.9)
    with pytest.raises(ValueError, match=r'\(0\.8, 0\.7, 0\.8\)'): check_moms((0.9, 0.8, 0.7, 0.6))

def test_schedule_validation_and_scaling():
    with pytest.raises(ValueError, match="'all'"): as_stages([Stage(0, 1, 1e-2)])
    assert [s.epochs for s in scale_schedule(as_stages(), 5)] == [1, 1, 1, 2]

def test_vocab_mismatch_names_both_sizes_and_fix():
    from fastai.text.models.awdlstm import AWD_LSTM
    from fastai.text.models.core import get_language_model, get_text_classifier
    lm = get_language_model(AWD_LSTM, 40, config=lm_config('small'))
    clf = get_text_classifier(AWD_LSTM, 48, 3, config=clas_config('small'))
    with pytest.raises(ValueError, match=r'40 tokens.*48.*vocab=lm\.vocab'):
        load_encoder_weights(clf, lm[0].state_dict())

def test_roc_auc_with_missing_class():
    p = np.array([[.7, .2, .1], [.2, .7, .1], [.6, .3, .1], [.3, .6, .1]])
    assert roc_auc_present(p, [0, 1, 0, 1]) == 1.0
    assert np.isnan(roc_auc_present(p, [1, 1, 1, 1]))

def test_export_works(model, tmp_path):
    from fastai.learner import load_learner
    model.learn.export(tmp_path/'export.pkl')
    learn = load_learner(tmp_path/'export.pkl', cpu=True)
    assert len(learn.splitter(learn.model)) == 4  # embedding, 2 LSTM layers, head
    assert torch.allclose(learn.loss_func.func.weight.cpu(), torch.tensor(model.class_weights))

def test_fastai_prediction_paths_on_the_trained_learner(model, data):
    # the learner's items are token lists, so fastai's own paths take `(tokens,)` rather than raw strings
    from reviewclf.lm import tokenize
    items = [(t,) for t in tokenize(list(data[2].text[:5]))]
    preds, _ = model.learn.get_preds(dl=model.learn.dls.test_dl(items, num_workers=0))
    assert preds.shape == (5, len(model.classes))
    assert model.learn.predict(items[0])[0] in model.classes

def test_wt103_fails_fast_offline(monkeypatch):
    monkeypatch.setenv('REVIEWCLF_OFFLINE', '1')
    with pytest.raises(ConnectionError, match="pretrained='none'.*PATH"): pretrained_lm('wt103')

def test_connectivity_check_is_quick_on_a_closed_port(monkeypatch):
    monkeypatch.setenv('REVIEWCLF_OFFLINE', '0')
    s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
    assert _online('127.0.0.1', port, timeout=1) is False

def test_pretrained_lm_folder_round_trip_and_use(data, tmp_path):
    train, valid, pool = data
    lm = fine_tune_lm(list(train.text) + list(pool.text), epochs=1, bs=8, seq_len=24, quiet=True)
    lm.save(tmp_path/'lm')
    m, vocab, cfg = load_lm(tmp_path/'lm')
    assert vocab == lm.vocab and cfg['n_layers'] == 2
    assert torch.equal(m[0].encoder.weight, lm.encoder.encoder.weight.cpu())
    out = generate(m, vocab, 'The coach', n_words=5, seed=0)
    assert out.lower().startswith('the coach')
    model = train_model(train, TrainConfig(**dict(TINY, lm_epochs=2), pretrained=str(tmp_path/'lm')),
                        valid_df=valid, unlabelled=pool)
    assert model.vocab[:len(vocab)] == vocab
    with pytest.raises(ValueError, match="size='small'"):
        fine_tune_lm(list(train.text), size='full', pretrained=str(tmp_path/'lm'), epochs=0, quiet=True)

def test_missing_pretrained_path_names_options():
    with pytest.raises(FileNotFoundError, match='none'): pretrained_lm('/nonexistent/lm-folder')

def test_valid_split_when_no_valid_df(data):
    train = pd.concat([data[0], data[1]]).reset_index(drop=True)
    m = train_model(train, TrainConfig(**dict(TINY, lm_epochs=0), valid_pct=0.25))
    assert m.metrics['n_valid'] == 12 and m.metrics['n_train'] == 36

def test_fewer_training_rows_than_batch_size_still_trains():
    m = train_model(_reviews(9, 4), TrainConfig(**dict(TINY, lm_epochs=0, bs=32)), valid_df=_reviews(6, 5))
    assert len(m.history['step']) >= 2  # one batch per epoch, two stages
