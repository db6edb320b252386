"Pre-training: WikiText clean-up, batches, schedule, checkpoints, resume after a real kill, the CLI, use by the classifier."
import json, os, subprocess, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reviewclf.lm import load_lm, tokenize
from reviewclf.pretrain import PretrainConfig, detok_wiki, epoch_slice, lm_batches, one_cycle_lr, pretrain, shipped_lm

TINY = dict(bs=8, bptt=20, max_vocab=1000, min_freq=1)


@pytest.fixture
def sentences(data_dir):
    df = pd.read_csv(data_dir/'semeval2014_restaurants'/'restaurants_aspect_category_single.csv')
    return df.query("split == 'train'")['text'].tolist()


def test_wikitext_matches_review_tokens():
    assert detok_wiki(" 1 @,@ 000 role @-@ playing <unk> ") == "1,000 role-playing xxunk"
    assert tokenize([detok_wiki("it wasn 't")])[0] == tokenize(["it wasn't"])[0]


def test_batches_and_epoch_windows():
    x, y = next(lm_batches(np.arange(201), bs=4, bptt=7))
    assert x.shape == (4, 7) and bool((y == x + 1).all())
    assert list(epoch_slice(np.arange(10), 1, 6)) == [6, 7, 8, 9, 0, 1]
    assert len(epoch_slice(np.arange(10), 3)) == 10


def test_schedule_warms_up_then_anneals():
    lrs = [one_cycle_lr(s, 40, 1e-2) for s in range(40)]
    assert lrs[0] < lrs[10] and lrs[10] == max(lrs) and lrs[-1] < lrs[10] / 50


def test_refuses_to_overwrite_and_resumes_nothing(tmp_path, sentences):
    with pytest.raises(FileNotFoundError, match='without --resume'): pretrain(tmp_path/'none', resume=True)
    out = tmp_path/'lm'
    hist = pretrain(out, corpus=sentences[:200], cfg=PretrainConfig(epochs=1, **TINY), progress=False)
    with pytest.raises(ValueError, match='--resume'): pretrain(out, corpus=sentences[:200], cfg=PretrainConfig(epochs=1, **TINY))
    assert pretrain(out, resume=True, progress=False) == hist
    model, vocab, cfg = load_lm(out)
    assert (cfg['emb_sz'], cfg['n_layers']) == (128, 2) and vocab[0] == 'xxunk'


RUN = '''
import json, sys
from reviewclf.pretrain import PretrainConfig, pretrain
texts = json.load(open(sys.argv[2]))
cfg = PretrainConfig(epochs=6, bs=8, bptt=20, max_vocab=1000, min_freq=1)
pretrain(sys.argv[1], corpus=texts, cfg=cfg, resume=sys.argv[3] == 'resume', progress=False,
         log=lambda r: print('EPOCH', r['epoch'], flush=True))
'''


def test_resume_after_kill(tmp_path, sentences):
    "Kill a real run after its first checkpoint; the resumed run goes on from the next epoch and keeps the history."
    (tmp_path/'texts.json').write_text(json.dumps(sentences[:300]))
    (tmp_path/'run.py').write_text(RUN)
    out, state = tmp_path/'lm', tmp_path/'lm'/'checkpoint'/'state.json'
    cmd = [sys.executable, str(tmp_path/'run.py'), str(out), str(tmp_path/'texts.json')]
    root = str(Path(__file__).resolve().parents[1])  # the checkout, whether or not reviewclf is installed
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.Popen(cmd + ['start'], stdout=subprocess.DEVNULL, env=env)
    deadline = time.time() + 600
    while not state.exists():
        assert proc.poll() is None, 'the run ended before writing a checkpoint'
        assert time.time() < deadline, 'no checkpoint within 10 minutes'
        time.sleep(0.05)
    proc.kill(); proc.wait()
    killed = json.loads(state.read_text())
    assert 1 <= killed['done'] < 6, 'the kill should land mid-run'
    res = subprocess.run(cmd + ['resume'], capture_output=True, text=True, timeout=900, check=True, env=env)
    epochs = [int(l.split()[1]) for l in res.stdout.splitlines() if l.startswith('EPOCH')]
    assert epochs == list(range(killed['done'] + 1, 7))
    final = json.loads(state.read_text())
    assert [h['epoch'] for h in final['history']] == list(range(1, 7))
    assert final['history'][:killed['done']] == killed['history']
    assert load_lm(out)[1] == json.loads((out/'checkpoint'/'vocab.json').read_text())


def test_cli_pretrain(tmp_path, sentences, capsys):
    from reviewclf.cli import main
    pool = tmp_path/'pool.csv'
    pd.DataFrame({'text': sentences[:200]}).to_csv(pool, index=False)
    args = ['pretrain', '--out', str(tmp_path/'lm'), '--corpus', 'none', '--extra', str(pool), '--bs', '8',
            '--max-vocab', '1000', '--quiet']
    assert main(args) == 0
    assert 'epoch 1 (extra)' in capsys.readouterr().out
    assert main(args) == 2
    said = capsys.readouterr()
    assert '--resume' in said.err + said.out


def test_shipped_lm_trains_a_classifier(sentences, data_dir):
    "The shipped LM folder is what `pretrained=PATH` accepts: a classifier trains from it."
    from reviewclf.classifier import TrainConfig, train_model
    df = pd.read_csv(data_dir/'semeval2014_restaurants'/'restaurants_aspect_category_single.csv')
    df = df.query("split == 'train' and label in ['food', 'service']").groupby('label').head(20)
    cfg = TrainConfig(pretrained=str(shipped_lm()), size='small', lm_epochs=0, epochs=1, verbose=False)
    model = train_model(df[['text', 'label']], cfg)
    assert model.vocab[:len(load_lm(shipped_lm())[1])] == load_lm(shipped_lm())[1]
    assert model.predict_proba(['The waiter was rude.']).shape == (1, 2)
