"The `reviewclf` command line end to end: train, predict, demo, help, and bad input."
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reviewclf import cli
from reviewclf.cli import main

FAST = ['--size', 'small', '--epochs', '1', '--lm-epochs', '1', '--seed', '0']


@pytest.fixture(scope='module')
def reviews_csv(tmp_path_factory):
    "A small CSV with the user's own column names, extra columns and some unlabelled rows."
    from reviewclf.data import demo_reviews
    demo = demo_reviews()
    lab = demo[demo['label'].notna()].groupby('label', group_keys=False).head(12)
    pool = demo[demo['label'].isna()].head(10)
    df = pd.concat([lab, pool]).sample(frac=1, random_state=0).reset_index(drop=True)
    df = df.rename(columns={'text': 'review', 'label': 'topic'})
    df.insert(0, 'id', np.arange(len(df)) * 7 + 3)
    df['stars'] = np.arange(len(df)) % 5 + 1
    path = tmp_path_factory.mktemp('data')/'reviews.csv'
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope='module')
def model_dir(reviews_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp('model')/'model'
    rc = main(['train', str(reviews_csv), '--text-col', 'review', '--label-col', 'topic', '--out', str(out), *FAST])
    assert rc == 0
    return out


def test_train_writes_model_folder(model_dir, capsys):
    for f in ('config.json', 'metrics.json', 'losses.png'):
        assert (model_dir/f).is_file(), f
    import json
    metrics = json.loads((model_dir/'metrics.json').read_text())
    assert 0 <= metrics['accuracy'] <= 1
    assert metrics['n_unlabelled'] == 10
    assert sum(metrics['label_counts'].values()) == 36


def test_predict_keeps_rows_order_and_columns(model_dir, reviews_csv, tmp_path, capsys):
    out = tmp_path/'preds.csv'
    rc = main(['predict', str(model_dir), str(reviews_csv), '--text-col', 'review', '--out', str(out)])
    assert rc == 0
    src, pred = pd.read_csv(reviews_csv), pd.read_csv(out)
    assert len(pred) == len(src)
    assert list(pred['id']) == list(src['id'])
    assert list(pred['review']) == list(src['review'])
    assert list(pred['stars']) == list(src['stars'])
    prob_cols = [c for c in pred.columns if c.startswith('prob_')]
    classes = sorted(src['topic'].dropna().unique())
    assert sorted(c[len('prob_'):] for c in prob_cols) == classes
    np.testing.assert_allclose(pred[prob_cols].sum(axis=1), 1, atol=1e-4)
    assert set(pred['pred']) <= set(classes)
    assert 'predictions written' in capsys.readouterr().out


def test_predict_new_texts_without_label_column(model_dir, tmp_path):
    data = tmp_path/'new.csv'
    pd.DataFrame({'text': ['I was laid off last month and need help.', 'Thinking of moving from law to design.'],
                  'source': ['a', 'b']}).to_csv(data, index=False)
    out = tmp_path/'p.csv'
    assert main(['predict', str(model_dir), str(data), '--out', str(out)]) == 0
    pred = pd.read_csv(out)
    assert list(pred['source']) == ['a', 'b']
    assert 'pred' in pred.columns


def test_predict_with_costs(model_dir, reviews_csv, tmp_path):
    pytest.importorskip('reviewclf.costs')
    import json
    classes = json.loads((model_dir/'config.json').read_text())['classes']
    costs = tmp_path/'costs.csv'
    # Predicting anything but the first class costs 10 times more than the rest: the decision shifts to it.
    c = pd.DataFrame(10.0, index=classes, columns=classes)
    for k in classes: c.loc[k, k] = 0.0
    c.iloc[0, :] = np.where(np.arange(len(classes)) == 0, 0.0, 1.0)
    c.index.name = 'predicted'
    c.to_csv(costs)
    out = tmp_path/'p.csv'
    assert main(['predict', str(model_dir), str(reviews_csv), '--text-col', 'review', '--out', str(out),
                 '--costs', str(costs)]) == 0
    pred = pd.read_csv(out)
    assert {'pred', 'pred_min_cost'} <= set(pred.columns)
    assert (pred['pred_min_cost'] == classes[0]).mean() >= (pred['pred'] == classes[0]).mean()


def test_demo(tmp_path, capsys):
    out = tmp_path/'demo'
    assert main(['demo', '--out', str(out), *FAST]) == 0
    for f in ('model/config.json', 'test_predictions.csv', 'pool_predictions.csv', 'summary.json'):
        assert (out/f).is_file(), f
    text = capsys.readouterr().out
    assert 'test accuracy' in text and 'distribution of the unlabelled pool' in text and 'most common class' in text


def _commands():
    sub = next(a for a in cli.build_parser()._actions if a.dest == 'command')
    return list(sub.choices)


def test_help_for_every_command(capsys):
    commands = _commands()
    assert {'train', 'predict', 'demo'} <= set(commands)
    for cmd in commands:
        with pytest.raises(SystemExit) as e:
            main([cmd, '--help'])
        assert e.value.code == 0
        assert f'usage: reviewclf {cmd}' in capsys.readouterr().out


def _bad(argv, capsys):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith('error: ') and 'Traceback' not in err
    return err


def test_missing_column(reviews_csv, tmp_path, capsys):
    err = _bad(['train', str(reviews_csv), '--text-col', 'body', '--label-col', 'topic', '--out', str(tmp_path/'m')], capsys)
    assert 'body' in err


def test_empty_texts(tmp_path, capsys):
    data = tmp_path/'empty.csv'
    pd.DataFrame({'text': ['', ' ', None], 'label': ['a', 'b', 'a']}).to_csv(data, index=False)
    _bad(['train', str(data), '--out', str(tmp_path/'m'), *FAST], capsys)


def test_not_utf8(tmp_path, capsys):
    data = tmp_path/'latin1.csv'
    data.write_bytes('text,label\nCaf\xe9 job was great,current job\nLost my job at the caf\xe9,lost job\n'.encode('latin-1'))
    err = _bad(['train', str(data), '--out', str(tmp_path/'m'), *FAST], capsys)
    assert 'encoding' in err


def test_unknown_model_dir(reviews_csv, tmp_path, capsys):
    err = _bad(['predict', str(tmp_path/'nope'), str(reviews_csv), '--out', str(tmp_path/'p.csv')], capsys)
    assert 'reviewclf train' in err


def test_missing_data_file(tmp_path, capsys):
    _bad(['train', str(tmp_path/'missing.csv'), '--out', str(tmp_path/'m')], capsys)


def test_bad_class_weight_file(reviews_csv, tmp_path, capsys):
    w = tmp_path/'w.csv'
    w.write_text('label,weight\nno such class,2\n')
    err = _bad(['train', str(reviews_csv), '--text-col', 'review', '--label-col', 'topic', '--out', str(tmp_path/'m'),
                '--class-weights', str(w), *FAST], capsys)
    assert 'no such class' in err


def test_config_from_args_orders_class_weights(tmp_path):
    w = tmp_path/'w.csv'
    w.write_text('label,weight\nb,2\na,0.5\n')
    p = cli.add_train_options(__import__('argparse').ArgumentParser())
    cfg = cli.config_from_args(p.parse_args(['--class-weights', str(w), '--seed', '5']), classes=['a', 'b'])
    assert cfg.class_weights == [0.5, 2.0] and cfg.seed == 5


def test_feature_modules_absent_are_skipped_but_errors_surface(monkeypatch):
    sub = __import__('argparse').ArgumentParser().add_subparsers()
    cli.add_feature_commands(sub, modules=('no_such_feature_module',))

    def broken(name):
        raise ModuleNotFoundError("No module named 'missing_dependency'", name='missing_dependency')
    monkeypatch.setattr(cli.importlib, 'import_module', broken)
    with pytest.raises(ModuleNotFoundError):
        cli.add_feature_commands(sub, modules=('data',))


def test_module_entry_point_subprocess():
    root = Path(cli.__file__).parents[1]
    r = subprocess.run([sys.executable, '-m', 'reviewclf.cli', '--help'], capture_output=True, text=True, cwd=root,
                       timeout=120)
    assert r.returncode == 0 and 'train' in r.stdout and 'predict' in r.stdout
    assert 'FutureWarning' not in r.stderr  # torch's torch.jit.script notice, raised by importing fastai
    exe = shutil.which('reviewclf')
    if exe is None:
        pytest.skip('console script not installed (pip install -e .)')
    r = subprocess.run([exe, '--help'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and 'demo' in r.stdout


# --- bad input found by a tester: one `error:` line and exit code 2, checked before any training ---

def _parse_error(argv, capsys, needle):
    with pytest.raises(SystemExit) as e: main(argv)
    assert e.value.code == 2
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize('opt,value,needle', [
    ('--epochs', '-1', 'positive integer'), ('--lm-epochs', '-1', '0 or more'), ('--bs', '0', 'positive integer'),
    ('--valid-pct', '1.5', 'between 0 and 1'), ('--valid-pct', '0', 'between 0 and 1'), ('--epochs', 'x', 'not an integer')])
def test_nonsense_train_settings_rejected_at_parse_time(reviews_csv, tmp_path, capsys, opt, value, needle):
    _parse_error(['train', str(reviews_csv), '--out', str(tmp_path/'m'), opt, value], capsys, needle)


@pytest.mark.parametrize('argv,needle', [
    (['quantify', 'm', 'pool.csv', '--out', 'q.json', '--n-boot', '-5'], '0 or more'),
    (['quantify', 'm', 'pool.csv', '--out', 'q.json', '--level', '1.5'], 'between 0 and 1'),
    (['evaluate', 'd.csv', '--out', 'r', '--folds', '0'], 'positive integer'),
    (['evaluate', 'd.csv', '--out', 'r', '--seeds', '0'], 'positive integer'),
    (['evaluate', 'd.csv', '--out', 'r', '--n-jobs', '0'], 'positive integer')])
def test_nonsense_quantify_and_evaluate_settings_rejected(argv, needle, capsys):
    _parse_error(argv, capsys, needle)


def test_wt103_needs_size_full(reviews_csv, tmp_path, capsys):
    err = _bad(['train', str(reviews_csv), '--text-col', 'review', '--label-col', 'topic', '--out', str(tmp_path/'m'),
                '--pretrained', 'wt103'], capsys)
    assert '--size full' in err
    assert not (tmp_path/'m').exists()


def test_wt103_offline_is_one_error_line(reviews_csv, tmp_path, capsys, monkeypatch):
    import reviewclf.lm as lm
    def offline(*a, **k): raise ConnectionError('Cannot download the WikiText-103 weights: no connection')
    monkeypatch.setattr(lm, '_wt103', offline)
    err = _bad(['train', str(reviews_csv), '--text-col', 'review', '--label-col', 'topic', '--out', str(tmp_path/'m'),
                '--pretrained', 'wt103', '--size', 'full', *FAST[2:]], capsys)
    assert 'Cannot download' in err


def test_train_out_is_a_file(reviews_csv, tmp_path, capsys):
    f = tmp_path/'afile'
    f.write_text('keep me')
    err = _bad(['train', str(reviews_csv), '--text-col', 'review', '--label-col', 'topic', '--out', str(f), *FAST], capsys)
    assert '--out' in err and 'folder' in err
    assert f.read_text() == 'keep me'


def test_predict_out_is_a_folder(model_dir, reviews_csv, tmp_path, capsys):
    err = _bad(['predict', str(model_dir), str(reviews_csv), '--text-col', 'review', '--out', str(tmp_path)], capsys)
    assert 'is a folder' in err


def test_predict_header_only(model_dir, tmp_path, capsys):
    data = tmp_path/'empty.csv'
    data.write_text('text\n')
    err = _bad(['predict', str(model_dir), str(data), '--out', str(tmp_path/'p.csv')], capsys)
    assert 'no rows' in err


@pytest.mark.parametrize('damage,needle', [
    (lambda d: (d/'config.json').write_text('{"backbone": '), 'config.json'),
    (lambda d: (d/'vocab.json').unlink(), 'vocab.json'),
    (lambda d: (d/'model.safetensors').write_bytes((d/'model.safetensors').read_bytes()[:100]), 'model.safetensors')])
def test_damaged_model_folder(model_dir, reviews_csv, tmp_path, capsys, damage, needle):
    broken = tmp_path/'broken'
    shutil.copytree(model_dir, broken)
    damage(broken)
    err = _bad(['predict', str(broken), str(reviews_csv), '--text-col', 'review', '--out', str(tmp_path/'p.csv')], capsys)
    assert needle in err and 'retrain' in err


def test_predict_keeps_user_pred_columns_and_order(model_dir, tmp_path, capsys):
    data = tmp_path/'mine.csv'
    pd.DataFrame({'id': [1, 2], 'review': ['They made me redundant.', 'I want to change careers.'],
                  'pred': ['x', 'y'], 'stars': [4, 5]}).to_csv(data, index=False)
    out = tmp_path/'p.csv'
    assert main(['predict', str(model_dir), str(data), '--text-col', 'review', '--out', str(out)]) == 0
    assert 'warning:' in capsys.readouterr().err
    pred = pd.read_csv(out)
    assert list(pred.columns[:4]) == ['id', 'review', 'orig_pred', 'stars']
    assert list(pred['orig_pred']) == ['x', 'y']
    assert pred.columns[4] == 'pred' and all(c.startswith('prob_') for c in pred.columns[5:])


def test_predict_accepts_one_class_label_column(model_dir, tmp_path):
    data = tmp_path/'one.csv'
    pd.DataFrame({'review': ['They made me redundant.', 'Laid off last week.'], 'topic': ['lost job'] * 2}).to_csv(data, index=False)
    out = tmp_path/'p.csv'
    assert main(['predict', str(model_dir), str(data), '--text-col', 'review', '--label-col', 'topic', '--out', str(out)]) == 0
    assert list(pd.read_csv(out)['topic']) == ['lost job'] * 2


def test_semicolon_file_with_sep(model_dir, tmp_path):
    data = tmp_path/'semi.csv'
    data.write_text('review;stars\nThey made me redundant, sadly.;3\nI want a new career;4\n')
    out = tmp_path/'p.csv'
    assert main(['predict', str(model_dir), str(data), '--text-col', 'review', '--sep', ';', '--out', str(out)]) == 0
    assert list(pd.read_csv(out)['stars']) == [3, 4]


def test_main_warning_format():
    import warnings
    from reviewclf.cli import _show_warning
    import io
    buf = io.StringIO()
    _show_warning(UserWarning('texts occur more than once'), UserWarning, '/some/path/data.py', 12, file=buf)
    assert buf.getvalue() == 'warning: texts occur more than once\n'


def test_embeddings_backbone_through_train_predict_quantify(reviews_csv, tmp_path, capsys):
    "Everything downstream of the probabilities works unchanged with the other backbone."
    pytest.importorskip('sentence_transformers')
    import json
    model = tmp_path/'emb'
    base = [str(reviews_csv), '--text-col', 'review']
    assert main(['train', *base, '--label-col', 'topic', '--out', str(model), '--backbone', 'embeddings', '--seed', '0']) == 0
    assert json.loads((model/'config.json').read_text())['backbone'] == 'embeddings'
    preds = tmp_path/'p.csv'
    assert main(['predict', str(model), *base, '--out', str(preds)]) == 0
    src, pred = pd.read_csv(reviews_csv), pd.read_csv(preds)
    assert list(pred['id']) == list(src['id'])
    np.testing.assert_allclose(pred.filter(like='prob_').sum(axis=1), 1, atol=1e-5)
    pool = tmp_path/'pool.csv'
    src[src['topic'].isna()][['review']].to_csv(pool, index=False)
    dist = tmp_path/'dist.json'
    assert main(['quantify', str(model), str(pool), '--text-col', 'review', '--out', str(dist), '--n-boot', '20']) == 0
    out = json.loads(dist.read_text())
    assert 'recommended' in json.dumps(out)
