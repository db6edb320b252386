"The dataset registry: loading from REVIEWCLF_DATA, the cache, and a download from a local test server (never a real host)."
import argparse
import http.server
import io
import socket
import tarfile
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import reviewclf.data as data
from reviewclf.data import (DATASETS, ReviewDataError, add_cli, list_datasets, load_dataset, locate_dataset,
                            read_reviews)

COLUMNS = {
    'semeval_restaurants': ['text', 'label', 'split', 'polarity', 'sentence_id'],
    'semeval_restaurants_multilabel': ['text', 'label', 'category_polarity', 'n_categories', 'split', 'sentence_id'],
    'yelp_10k': ['text', 'label', 'review_id', 'business_id', 'date'],
    'imdb_sample': ['text', 'label', 'split'],
    'sentiment_sentences': ['text', 'label', 'source'],
    'trec6': ['text', 'label', 'fine_label', 'split'],
    'wikitext2': ['text', 'title', 'split'],
}


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    "Every test gets an empty cache of its own; nothing is written to the home folder."
    monkeypatch.setenv('REVIEWCLF_CACHE', str(tmp_path/'cache'))
    monkeypatch.delenv('REVIEWCLF_DATA_URL', raising=False)
    return tmp_path/'cache'


# ---------------------------------------------------------------- from the data folder (the real files)

# rows, and counts per split or per class, as stated in each folder's SOURCE.md
EXPECTED = {
    'semeval_restaurants': (3079, 'split', {'train': 2468, 'test': 611}),
    'semeval_restaurants_multilabel': (3844, 'split', {'train': 3044, 'test': 800}),
    'yelp_10k': (10000, 'label', {'1': 749, '2': 927, '3': 1461, '4': 3526, '5': 3337}),
    'imdb_sample': (1000, 'split', {'train': 800, 'valid': 200}),
    'sentiment_sentences': (3000, 'source', {'amazon': 1000, 'imdb': 1000, 'yelp': 1000}),
    'trec6': (5952, 'split', {'train': 5452, 'test': 500}),
    'wikitext2': (720, 'split', {'train': 600, 'valid': 60, 'test': 60}),
}


def test_every_dataset_is_tested():
    assert set(EXPECTED) == set(COLUMNS) == set(DATASETS)


@pytest.mark.parametrize('name', list(EXPECTED))
def test_loads_from_data_folder(name, data_dir):
    assert locate_dataset(name) == ('data folder', data_dir/DATASETS[name].folder)
    df = load_dataset(name, download=False)
    rows, col, counts = EXPECTED[name]
    assert df.columns.tolist() == COLUMNS[name]
    assert len(df) == rows == DATASETS[name].rows
    assert df[col].value_counts().to_dict() == counts
    assert df.text.notna().all() and (df.text.str.strip() != '').all()
    if 'label' in df: assert df.label.notna().all() and all(isinstance(x, str) for x in df.label)


def test_class_counts_match_source_md(data_dir):
    sem = load_dataset('semeval_restaurants')
    got = pd.crosstab(sem.label, sem.split).to_dict('index')
    assert got == {'food': {'test': 267, 'train': 798}, 'anecdotes/miscellaneous': {'test': 193, 'train': 992},
                   'service': {'test': 77, 'train': 336}, 'ambience': {'test': 58, 'train': 234},
                   'price': {'test': 16, 'train': 108}}
    trec = load_dataset('trec6', split='test')
    assert trec.label.value_counts().to_dict() == {'DESC': 138, 'NUM': 113, 'ENTY': 94, 'LOC': 81, 'HUM': 65, 'ABBR': 9}
    ml = load_dataset('semeval_restaurants_multilabel')
    cats = ml[ml.split == 'train'].label.str.split(';').explode().value_counts().to_dict()
    assert cats == {'food': 1233, 'anecdotes/miscellaneous': 1133, 'service': 597, 'ambience': 432, 'price': 319}
    imdb = load_dataset('imdb_sample', split='train')
    assert imdb.label.value_counts().to_dict() == {'negative': 417, 'positive': 383}


def test_wikitext_articles_keep_every_token(data_dir):
    wt = load_dataset('wikitext2')
    tokens = wt.groupby('split').text.apply(lambda s: s.str.split().str.len().sum()).to_dict()
    assert tokens == {'train': 2051910, 'valid': 213886, 'test': 241211}  # SOURCE.md, excluding <eos>
    assert wt.title.iloc[0] == 'Valkyria Chronicles III' and wt.text.iloc[0].startswith('= Valkyria Chronicles III =')


def test_datasets_pass_read_reviews(data_dir):
    for name in ('semeval_restaurants', 'trec6', 'sentiment_sentences'):
        with pytest.warns(data.ReviewDataWarning, match='occur more than once'):  # a few genuine repeats in each
            df = read_reviews(load_dataset(name))
        assert df.columns[:2].tolist() == ['text', 'label']
    with pytest.warns(data.ReviewDataWarning, match='longer than 5000'):
        read_reviews(load_dataset('imdb_sample'))


def test_split_and_names(data_dir):
    assert len(load_dataset('trec6', split='train')) == 5452
    assert load_dataset('trec6', split='train').index.tolist() == list(range(5452))
    assert len(load_dataset('TREC6')) == len(load_dataset('trec6'))
    assert len(load_dataset('yelp_reviews_10k')) == 10000  # the folder name works too
    assert len(load_dataset('semeval-restaurants')) == 3079
    with pytest.raises(ReviewDataError, match="no split 'dev'; its splits are \\['test', 'train'\\]"):
        load_dataset('trec6', split='dev')
    with pytest.raises(ReviewDataError, match='no official split'):
        load_dataset('yelp_10k', split='train')
    with pytest.raises(ReviewDataError, match="No dataset named 'imdb_full'. Known datasets: semeval_restaurants"):
        load_dataset('imdb_full')


def test_list_datasets(data_dir):
    d = list_datasets()
    assert d.columns.tolist() == ['name', 'description', 'rows', 'classes', 'license', 'found', 'path']
    assert d.name.tolist() == list(DATASETS)
    assert (d.found == 'data folder').all()
    assert d.set_index('name').loc['trec6', 'rows'] == 5952


def test_list_datasets_without_data(monkeypatch):
    monkeypatch.delenv('REVIEWCLF_DATA', raising=False)
    d = list_datasets()
    assert (d.found == 'not present').all() and (d.path == '').all()


# ---------------------------------------------------------------- downloading from a local server

SEMEVAL_TRAIN = '''<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sentences>
    <sentence id="3121">
        <text>But the staff was so horrible to us.</text>
        <aspectTerms>
            <aspectTerm term="staff" polarity="negative" from="8" to="13"/>
        </aspectTerms>
        <aspectCategories>
            <aspectCategory category="service" polarity="negative"/>
        </aspectCategories>
    </sentence>
    <sentence id="2777">
        <text>The food was above average &amp; cheap.</text>
        <aspectCategories>
            <aspectCategory category="food" polarity="positive"/>
            <aspectCategory category="price" polarity="positive"/>
        </aspectCategories>
    </sentence>
    <sentence id="1976">
        <text>Finally!</text>
        <aspectCategories>
            <aspectCategory category="anecdotes/miscellaneous" polarity="positive"/>
        </aspectCategories>
    </sentence>
</sentences>
'''
SEMEVAL_TEST = '''<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sentences>
    <sentence id="32897564#894393#2">
        <text>The bread is top notch as well.</text>
        <aspectCategories>
            <aspectCategory category="food" polarity="positive" />
        </aspectCategories>
    </sentence>
</sentences>
'''


def yelp_zip():
    d = pd.DataFrame({'business_id': ['b1', 'b2', 'b3'], 'date': ['2011-01-26', '2011-07-27', '2012-06-14'],
                      'review_id': ['r1', 'r2', 'r3'], 'stars': [5, 1, 3],
                      'text': ['Great breakfast.\n\nWill be back!', 'Cold food, "rude" staff.', 'It was ok, I guess. '],
                      'type': 'review', 'user_id': ['u1', 'u2', 'u3'], 'cool': 0, 'useful': 1, 'funny': 0})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z: z.writestr('yelp.csv', d.to_csv(index=False))
    return buf.getvalue()


def wikitext_tar(counts=False):
    vocab = ['<eos>', '=', 'Alpha', 'Beta', 'is', 'a', 'word', '.', 'History', '<unk>', '@-@']
    ids = {w: i for i, w in enumerate(vocab)}
    def encode(lines): return np.array([i for l in lines for i in [ids[w] for w in l.split()] + [0]], dtype=np.int64)
    splits = {'train': ['', '= Alpha =', '', 'Alpha is a word .', '', '= = History = =', '', 'Beta is <unk> @-@ a .',
                        '', '= Beta =', '', 'Beta is a word .', ''],
              'validate': ['', '= Alpha =', '', 'Alpha is Beta .', ''],
              'test': ['', '= Beta =', '', 'Beta .', '']}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        def add(name, payload):
            info = tarfile.TarInfo(f'wikitext-2/{name}'); info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        add('type.info', ('\n'.join(f'{w}\t{i + 7}' if counts else w for i, w in enumerate(vocab)) + '\n').encode())
        for split, lines in splits.items():
            b = io.BytesIO(); np.save(b, encode(lines)); add(f'{split}.npy', b.getvalue())
    return buf.getvalue()


def public_files():
    "Tiny files in each public source's own format, keyed by dataset and file name."
    sentiment = {'amazon_cells_labelled.txt': 'sentence\tscore\nGood case, Excellent value.\t1\nBroke after a day.  \t0\n',
                 'imdb_labelled.txt': 'sentence\tscore\nA very slow-moving, aimless movie.  \t0\n'
                                      'Perfect in all of them \x96 a true masterpiece\x85  \t1\n',
                 'yelp_labelled.txt': 'sentence\tscore\nWow... Loved this place.\t1\n'}
    return {
        'semeval_restaurants': {'Restaurants_Train.xml': SEMEVAL_TRAIN.encode(),
                                'Restaurants_Test_Gold.xml': SEMEVAL_TEST.encode()},
        'yelp_10k': {'yelp.csv.zip': yelp_zip()},
        'imdb_sample': {'texts.csv': b'label,text,is_valid\nnegative,"Un-bleeping-believable! Meg Ryan, really.",False\n'
                                     b'positive,"A gem.<br /><br />See it.",True\npositive,Fine film,False\n'},
        'sentiment_sentences': {k: v.encode() for k, v in sentiment.items()},
        'trec6': {'train_5500.label': 'DESC:manner How did serfdom develop in Russia ?\nHUM:ind Who was Galileo ?\n'
                                      'LOC:city What is the capital of Côte d\'Ivoire ?\n'.encode('latin-1'),
                  'TREC_10.label': b'NUM:dist How far is it from Denver to Aspen ?\n'},
        'wikitext2': {'wikitext-2.tar.gz': wikitext_tar()},
    }


@pytest.fixture
def server(tmp_path, monkeypatch):
    "A file server on 127.0.0.1 laid out like raw.githubusercontent.com; downloads allowed, no data folder."
    root = tmp_path/'www'
    root.mkdir()
    log = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs): super().__init__(*args, directory=str(root), **kwargs)
        def log_message(self, fmt, *args): log.append(self.path)

    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    url = f'http://127.0.0.1:{srv.server_port}'
    monkeypatch.setenv('REVIEWCLF_DATA_URL', url)
    monkeypatch.delenv('REVIEWCLF_DATA', raising=False)
    monkeypatch.delenv('REVIEWCLF_OFFLINE', raising=False)
    yield SimpleNamespace(url=url, root=root, log=log)
    srv.shutdown()
    srv.server_close()


def publish(root, name, files):
    d = DATASETS[name]
    for src in d.sources:
        p = Path(root)/d.repo/d.commit/src
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(files[Path(src).name])


def download(server, name):
    files = public_files()
    publish(server.root, name, files['semeval_restaurants' if name.startswith('semeval') else name])
    return load_dataset(name)


def test_download_semeval(server, own_cache):
    df = download(server, 'semeval_restaurants')
    assert df.columns.tolist() == COLUMNS['semeval_restaurants']
    assert df.text.tolist() == ['But the staff was so horrible to us.', 'Finally!', 'The bread is top notch as well.']
    assert df.label.tolist() == ['service', 'anecdotes/miscellaneous', 'food']
    assert df.split.tolist() == ['train', 'train', 'test'] and df.polarity.tolist()[0] == 'negative'
    assert df.sentence_id.tolist() == ['3121', '1976', '32897564#894393#2']
    assert locate_dataset('semeval_restaurants') == ('cache', own_cache/'semeval2014_restaurants')
    assert sorted(server.log) == sorted(f'/wwz58/TSA/{DATASETS["semeval_restaurants"].commit}/data/{f}'
                                        for f in ('Restaurants_Train.xml', 'Restaurants_Test_Gold.xml'))
    ml = load_dataset('semeval_restaurants_multilabel')  # converted by the same download, no new request
    assert len(server.log) == 2
    assert ml.columns.tolist() == COLUMNS['semeval_restaurants_multilabel']
    assert ml.label.tolist() == ['service', 'food;price', 'anecdotes/miscellaneous', 'food']
    assert ml.category_polarity[1] == 'food:positive;price:positive' and ml.n_categories.tolist() == [1, 2, 1, 1]
    assert ml.text[1] == 'The food was above average & cheap.'
    assert 'wwz58/TSA' in (own_cache/'semeval2014_restaurants'/'SOURCE.txt').read_text()


def test_download_yelp(server):
    df = download(server, 'yelp_10k')
    assert df.columns.tolist() == COLUMNS['yelp_10k']
    assert df.label.tolist() == ['5', '1', '3']
    assert df.text.tolist() == ['Great breakfast.\n\nWill be back!', 'Cold food, "rude" staff.', 'It was ok, I guess.']
    assert df.review_id.tolist() == ['r1', 'r2', 'r3'] and df.date[0] == '2011-01-26'


def test_download_imdb(server):
    df = download(server, 'imdb_sample')
    assert df.columns.tolist() == COLUMNS['imdb_sample']
    assert df.split.tolist() == ['train', 'valid', 'train'] and df.label.tolist() == ['negative', 'positive', 'positive']
    assert df.text[1] == 'A gem.<br /><br />See it.'


def test_download_sentiment(server):
    df = download(server, 'sentiment_sentences')
    assert df.columns.tolist() == COLUMNS['sentiment_sentences']
    assert df.source.tolist() == ['amazon', 'amazon', 'imdb', 'imdb', 'yelp']
    assert df.label.tolist() == ['positive', 'negative', 'negative', 'positive', 'positive']
    assert df.text.tolist()[1:4] == ['Broke after a day.', 'A very slow-moving, aimless movie.',
                                     'Perfect in all of them – a true masterpiece…']


def test_download_trec(server):
    df = download(server, 'trec6')
    assert df.columns.tolist() == COLUMNS['trec6']
    assert df.label.tolist() == ['DESC', 'HUM', 'LOC', 'NUM'] and df.fine_label[0] == 'DESC:manner'
    assert df.text[2] == "What is the capital of Côte d'Ivoire ?" and df.split.tolist()[-1] == 'test'


@pytest.mark.parametrize('counts', [False, True])
def test_download_wikitext(server, own_cache, counts):
    "type.info holds one word per line, possibly followed by other fields (e.g. a count)."
    publish(server.root, 'wikitext2', {'wikitext-2.tar.gz': wikitext_tar(counts)})
    df = load_dataset('wikitext2')
    assert df.columns.tolist() == COLUMNS['wikitext2']
    assert df.title.tolist() == ['Alpha', 'Beta', 'Alpha', 'Beta'] and df.split.tolist() == ['train', 'train', 'valid', 'test']
    assert df.text[0] == '= Alpha =\nAlpha is a word .\n= = History = =\nBeta is <unk> @-@ a .'
    lines = (own_cache/'wikitext2'/'wiki.train.tokens').read_text().split('\n')
    assert lines[:4] == [' ', ' = Alpha = ', ' ', ' Alpha is a word . ']  # the layout of the original .tokens files


def test_download_shows_progress(server, capsys):
    download(server, 'trec6')
    assert 'train_5500.label' in capsys.readouterr().out


def test_cache_hit_needs_no_network(server, monkeypatch):
    first = download(server, 'trec6')
    n = len(server.log)
    monkeypatch.setenv('REVIEWCLF_OFFLINE', '1')
    monkeypatch.setenv('REVIEWCLF_DATA_URL', 'http://127.0.0.1:9')
    pd.testing.assert_frame_equal(load_dataset('trec6'), first)
    assert len(server.log) == n
    assert locate_dataset('trec6')[0] == 'cache'


def test_data_folder_comes_before_cache(server, tmp_path, monkeypatch):
    download(server, 'trec6')
    own = tmp_path/'shared'/'trec6'
    own.mkdir(parents=True)
    (own/'trec6.csv').write_text('text,label,fine_label,split\nWhy ?,DESC,DESC:reason,train\n')
    monkeypatch.setenv('REVIEWCLF_DATA', str(tmp_path/'shared'))
    assert locate_dataset('trec6') == ('data folder', own)
    assert load_dataset('trec6').text.tolist() == ['Why ?']
    monkeypatch.setenv('REVIEWCLF_DATA', str(tmp_path/'elsewhere'))  # a data folder without it: the cache
    assert locate_dataset('trec6')[0] == 'cache'


def test_converted_files_equal_the_shared_files(data_dir, server):
    "Served the original files kept in the shared folder, the converters rebuild the shared CSVs exactly."
    publish(server.root, 'trec6', {f: (data_dir/'trec6'/f).read_bytes() for f in ('train_5500.label', 'TREC_10.label')})
    publish(server.root, 'imdb_sample', {'texts.csv': (data_dir/'imdb_sample'/'texts.csv').read_bytes()})
    for name in ('trec6', 'imdb_sample'):
        got = load_dataset(name)
        assert locate_dataset(name)[0] == 'cache'
        want = DATASETS[name].read(data_dir/DATASETS[name].folder)
        pd.testing.assert_frame_equal(got, want)


def test_offline_error_names_the_variable_and_the_url(monkeypatch):
    monkeypatch.delenv('REVIEWCLF_DATA', raising=False)
    monkeypatch.setenv('REVIEWCLF_OFFLINE', '1')
    with pytest.raises(ReviewDataError) as e: load_dataset('semeval_restaurants')
    msg = str(e.value)
    commit = DATASETS['semeval_restaurants'].commit
    assert 'REVIEWCLF_DATA is not set' in msg and 'set the environment variable REVIEWCLF_DATA' in msg
    assert f'https://raw.githubusercontent.com/wwz58/TSA/{commit}/data/Restaurants_Train.xml' in msg
    assert 'REVIEWCLF_OFFLINE' in msg and 'semeval2014_restaurants/restaurants_aspect_category_single.csv' in msg


def test_offline_error_says_when_the_data_folder_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv('REVIEWCLF_DATA', str(tmp_path/'no_such_folder'))
    monkeypatch.setenv('REVIEWCLF_OFFLINE', '1')
    with pytest.raises(ReviewDataError, match='no_such_folder, a folder that does not exist'): load_dataset('trec6')


def test_no_download_when_not_allowed(monkeypatch):
    monkeypatch.delenv('REVIEWCLF_DATA', raising=False)
    monkeypatch.delenv('REVIEWCLF_OFFLINE', raising=False)
    with pytest.raises(ReviewDataError, match='download=False'): load_dataset('trec6', download=False)


def test_files_fetched_by_hand_are_converted_offline(own_cache, monkeypatch):
    monkeypatch.delenv('REVIEWCLF_DATA', raising=False)
    monkeypatch.setenv('REVIEWCLF_OFFLINE', '1')
    raw = own_cache/'downloads'/'trec6'
    raw.mkdir(parents=True)
    for name, payload in public_files()['trec6'].items(): (raw/name).write_bytes(payload)
    assert len(load_dataset('trec6')) == 4


def test_refused_connection_is_a_quick_clear_error(monkeypatch):
    s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()  # nothing listens there
    monkeypatch.delenv('REVIEWCLF_DATA', raising=False)
    monkeypatch.delenv('REVIEWCLF_OFFLINE', raising=False)
    monkeypatch.setenv('REVIEWCLF_DATA_URL', f'http://127.0.0.1:{port}')
    t = time.time()
    with pytest.raises(ReviewDataError, match=rf'downloading http://127.0.0.1:{port}/rubenaranamorera/.* failed.*REVIEWCLF_DATA'):
        load_dataset('trec6')
    assert time.time() - t < 5


def test_silent_server_times_out(monkeypatch):
    "A server that accepts the connection and never answers: an error after TIMEOUT seconds, not a hang."
    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
    try:
        monkeypatch.delenv('REVIEWCLF_DATA', raising=False)
        monkeypatch.delenv('REVIEWCLF_OFFLINE', raising=False)
        monkeypatch.setenv('REVIEWCLF_DATA_URL', f'http://127.0.0.1:{s.getsockname()[1]}')
        monkeypatch.setattr(data, 'TIMEOUT', 0.5)
        t = time.time()
        with pytest.raises(ReviewDataError, match='timed out'): load_dataset('trec6')
        assert time.time() - t < 5
    finally: s.close()


def test_missing_file_on_the_server(server):
    with pytest.raises(ReviewDataError, match=r'downloading http://127.0.0.1:\d+/rubenaranamorera/.*train_5500.label '
                                              r'failed \(File not found\)'):
        load_dataset('trec6')
    assert locate_dataset('trec6')[0] == 'not present'


def test_broken_download_is_not_cached(server, own_cache):
    files = public_files()['semeval_restaurants']
    publish(server.root, 'semeval_restaurants', {**files, 'Restaurants_Train.xml': b'<sentences><sentence>'})
    with pytest.raises(ReviewDataError, match='could not be converted .*Fix: delete'):
        load_dataset('semeval_restaurants')
    assert locate_dataset('semeval_restaurants')[0] == 'not present'
    assert not list((own_cache).glob('.semeval*'))  # no temporary folder left behind


# ---------------------------------------------------------------- command line

def run_cli(*argv):
    parser = argparse.ArgumentParser(prog='reviewclf')
    add_cli(parser.add_subparsers(dest='command'))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_cli_lists_datasets_and_where_they_are(data_dir, capsys):
    assert run_cli('datasets') == 0
    out = capsys.readouterr().out
    for name in DATASETS: assert name in out
    assert out.count('data folder') >= len(DATASETS) and str(data_dir) in out


def test_cli_shows_one_dataset(data_dir, capsys):
    assert run_cli('datasets', 'trec6', '--head', '3') == 0
    out = capsys.readouterr().out
    assert 'trec6: 5952 rows (data folder)' in out and 'How did serfdom develop' in out and 'ABBR' in out


def test_cli_error_exit_code(capsys):
    assert run_cli('datasets', 'nosuch') == 2
    assert "No dataset named 'nosuch'" in capsys.readouterr().err
