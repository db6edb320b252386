"Reading and validating reviews, splits, and the embedded demo set (reviewclf.data)."
import warnings

import numpy as np
import pandas as pd
import pytest

from reviewclf.data import (MAX_CHARS, ReviewDataError, ReviewDataWarning, check_split, demo_pool_labels,
                            demo_reviews, read_reviews, repeated_kfold, stratified_sample, stratified_split)


def write(path, text, encoding='utf-8'):
    path.write_bytes(text.encode(encoding))
    return path


def labelled_frame(counts, seed=0, pool=0):
    "A frame with `counts[c]` distinct texts of each class `c`, shuffled, plus `pool` unlabelled rows."
    rows = [(f'review {i} about {c}', c) for c, n in counts.items() for i in range(n)]
    rows += [(f'unlabelled review {i}', None) for i in range(pool)]
    rng = np.random.default_rng(seed)
    rows = [rows[i] for i in rng.permutation(len(rows))]
    return pd.DataFrame(rows, columns=['text', 'label'])


# ---------------------------------------------------------------- reading

def test_reads_csv_keeps_rows_order_and_other_columns(tmp_path):
    f = write(tmp_path/'r.csv', 'id,text,label,stars\n7,"Great, truly",pos,5\n8,Bad,neg,1\n9,Meh,,3\n')
    df = read_reviews(f)
    assert df.columns.tolist() == ['text', 'label', 'id', 'stars']
    assert df.text.tolist() == ['Great, truly', 'Bad', 'Meh']
    assert df.label.tolist()[:2] == ['pos', 'neg'] and pd.isna(df.label[2])
    assert df.id.tolist() == [7, 8, 9]
    assert df.index.tolist() == [0, 1, 2]


def test_dataframe_input_gives_a_new_frame_in_order():
    src = pd.DataFrame({'body': ['c', 'a', 'b'], 'cls': ['x', 'y', 'x']}, index=[10, 5, 7])
    before = src.copy()
    df = read_reviews(src, text_col='body', label_col='cls')
    assert df is not src
    pd.testing.assert_frame_equal(src, before)  # input untouched
    assert df.text.tolist() == ['c', 'a', 'b'] and df.label.tolist() == ['x', 'y', 'x']
    assert df.index.tolist() == [0, 1, 2]


def test_tsv_by_extension_and_sniffed_separator(tmp_path):
    df = read_reviews(write(tmp_path/'r.tsv', 'text\tlabel\nGood, really\tpos\nBad\tneg\n'))
    assert df.text.tolist() == ['Good, really', 'Bad']
    df = read_reviews(write(tmp_path/'r.txt', 'text;label\nGood;pos\nBad;neg\nFine;pos\n'))
    assert df.label.tolist() == ['pos', 'neg', 'pos']
    df = read_reviews(write(tmp_path/'r.dat', 'text|label\nGood|pos\nBad|neg\n'), sep='|')
    assert df.text.tolist() == ['Good', 'Bad']


def test_utf8_with_byte_order_mark(tmp_path):
    df = read_reviews(write(tmp_path/'r.csv', 'text,label\nCafé ok,pos\nNo,neg\n', encoding='utf-8-sig'))
    assert df.text[0] == 'Café ok'


def test_labels_are_stripped_strings_and_numbers_become_strings(tmp_path):
    df = read_reviews(pd.DataFrame({'text': list('abcde'), 'label': [5.0, 4.0, np.nan, 1.0, 2.5]}))
    assert df.label.tolist()[:2] == ['5', '4'] and pd.isna(df.label[2]) and df.label.tolist()[3:] == ['1', '2.5']
    df = read_reviews(pd.DataFrame({'text': list('abcd'), 'label': [' food ', 'service', '   ', None]}))
    assert df.label.tolist()[:2] == ['food', 'service'] and df.label[2:].isna().all()
    df = read_reviews(write(tmp_path/'stars.csv', 'text,label\na,5\nb,3\nc,\n'))
    assert df.label.tolist()[:2] == ['5', '3'] and pd.isna(df.label[2])


def test_texts_that_look_like_missing_values_are_kept(tmp_path):
    df = read_reviews(write(tmp_path/'r.csv', 'text,label\nNA,a\nnull,b\nNone,a\n'))
    assert df.text.tolist() == ['NA', 'null', 'None']


def test_no_label_column():
    df = read_reviews(pd.DataFrame({'text': ['a', 'b']}), label_col=None)
    assert df.columns.tolist() == ['text', 'label'] and df.label.isna().all()


def test_renamed_columns_do_not_clash():
    df = read_reviews(pd.DataFrame({'review': ['a', 'b'], 'text': ['x', 'y'], 'label': ['p', 'q']}), text_col='review')
    assert df.columns.tolist() == ['text', 'label', 'orig_text']
    assert df.text.tolist() == ['a', 'b'] and df.orig_text.tolist() == ['x', 'y']


# ---------------------------------------------------------------- bad input: one test each, asserting the message

def test_missing_text_column_lists_columns_and_flag():
    with pytest.raises(ReviewDataError) as e: read_reviews(pd.DataFrame({'review': ['a'], 'label': ['x']}))
    msg = str(e.value)
    assert "Text column 'text' not found" in msg and "'review', 'label'" in msg
    assert 'text_col=' in msg and '--text-col' in msg


def test_missing_label_column_lists_columns_and_flag():
    with pytest.raises(ReviewDataError) as e: read_reviews(pd.DataFrame({'text': ['a'], 'stars': [1]}))
    msg = str(e.value)
    assert "Label column 'label' not found" in msg and "'text', 'stars'" in msg
    assert '--label-col' in msg and 'label_col=None' in msg


def test_wrong_separator_is_explained(tmp_path):
    with pytest.raises(ReviewDataError, match=r"single column.*sep='\\t'"):
        read_reviews(write(tmp_path/'r.csv', 'text\tlabel\na\tx\nb\ty\n'))


@pytest.mark.parametrize('bad', ['', '   \t ', None, np.nan])
def test_empty_whitespace_or_missing_texts_are_an_error(bad):
    df = pd.DataFrame({'text': ['ok', bad, 'fine', bad], 'label': ['a', 'b', 'a', 'b']})
    with pytest.raises(ReviewDataError) as e: read_reviews(df)
    msg = str(e.value)
    assert '2 of 4 texts' in msg and 'rows 1, 3' in msg and 'drop_empty=True' in msg and "'nan'" in msg


def test_empty_texts_in_a_file_name_the_first_rows(tmp_path):
    rows = ''.join(f'{"" if i % 2 else "text " + str(i)},a\n' for i in range(20)) + 'x,b\n'
    with pytest.raises(ReviewDataError, match=r'10 of 21 texts .*rows 1, 3, 5, 7, 9, … \(5 more\)'):
        read_reviews(write(tmp_path/'r.csv', 'text,label\n' + rows))


def test_drop_empty_drops_with_a_counting_warning():
    df = pd.DataFrame({'text': ['ok', ' ', None, 'fine'], 'label': ['a', 'b', 'a', 'b']})
    with pytest.warns(ReviewDataWarning, match='2 of 4 texts .* dropped'):
        out = read_reviews(df, drop_empty=True)
    assert out.text.tolist() == ['ok', 'fine'] and out.label.tolist() == ['a', 'b']


def test_file_not_utf8_names_the_encoding_option(tmp_path):
    f = write(tmp_path/'excel.csv', 'text,label\nfine,a\nCafé crème,b\n', encoding='cp1252')
    with pytest.raises(ReviewDataError) as e: read_reviews(f)
    msg = str(e.value)
    assert 'excel.csv is not valid utf-8' in msg and 'line 3' in msg
    assert "encoding='cp1252'" in msg and '--encoding' in msg and 'latin-1' in msg
    assert read_reviews(f, encoding='cp1252').text[1] == 'Café crème'


def test_unknown_encoding_name(tmp_path):
    with pytest.raises(ReviewDataError, match="Unknown encoding 'utf-9'"):
        read_reviews(write(tmp_path/'r.csv', 'text,label\na,b\n'), encoding='utf-9')


def test_malformed_csv_is_explained(tmp_path):
    with pytest.raises(ReviewDataError, match='double quotes'):
        read_reviews(write(tmp_path/'r.csv', 'text,label\nfine,a\nbad, comma, here,b\n'))


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='No review file'): read_reviews('/nonexistent/reviews.csv')


def test_single_class_is_an_error():
    with pytest.raises(ReviewDataError) as e:
        read_reviews(pd.DataFrame({'text': ['a', 'b', 'c'], 'label': ['food', 'food', None]}))
    msg = str(e.value)
    assert "single class, 'food' (2 labelled rows)" in msg and 'at least two' in msg and 'label_col' in msg


def test_only_unlabelled_rows_warn():
    with pytest.warns(ReviewDataWarning, match='all 2 rows are the unlabelled pool'):
        read_reviews(pd.DataFrame({'text': ['a', 'b'], 'label': [None, None]}))


def test_duplicated_texts_warn_with_counts():
    df = pd.DataFrame({'text': ['a', 'b', 'a ', 'c', 'b', 'a'], 'label': ['x', 'y', 'x', 'x', 'x', 'x']})
    with pytest.warns(ReviewDataWarning, match=r'2 texts occur more than once .*\(5 rows, e\.g\. rows 0, 2, 5\); '
                                               r'1 of them carry different labels'):
        out = read_reviews(df)
    assert len(out) == 6  # warned, nothing dropped


def test_long_texts_are_cut_with_a_warning():
    df = pd.DataFrame({'text': ['x' * (MAX_CHARS + 10), 'short', 'y' * (MAX_CHARS + 1)], 'label': ['a', 'b', 'a']})
    with pytest.warns(ReviewDataWarning, match=rf'2 of 3 texts are longer than {MAX_CHARS} .*longest has {MAX_CHARS + 10}'):
        out = read_reviews(df)
    assert out.text.str.len().tolist() == [MAX_CHARS, 5, MAX_CHARS]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert read_reviews(df, max_chars=None).text.str.len().max() == MAX_CHARS + 10
    assert MAX_CHARS == 5000  # the documented limit


def test_clean_input_raises_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        read_reviews(labelled_frame({'a': 3, 'b': 3}, pool=2))


# ---------------------------------------------------------------- splits

def test_stratified_split_every_class_both_sides_and_reproducible():
    df = labelled_frame({'a': 40, 'b': 12, 'c': 5}, pool=30)
    tr, va = stratified_split(df, valid_pct=0.2, seed=1)
    for part in (tr, va): assert set(part.label) == {'a', 'b', 'c'}
    assert len(va) == 12 and len(tr) == 45  # only labelled rows, pool left out
    assert not set(tr.index) & set(va.index)
    assert sorted([*tr.index, *va.index]) == sorted(df.index[df.label.notna()])
    assert list(tr.index) == sorted(tr.index) and list(va.index) == sorted(va.index)  # file order kept
    tr2, va2 = stratified_split(df, valid_pct=0.2, seed=1)
    assert tr2.index.equals(tr.index) and va2.index.equals(va.index)
    assert not stratified_split(df, valid_pct=0.2, seed=2)[1].index.equals(va.index)


@pytest.mark.parametrize('seed', range(20))
def test_stratified_split_minimum_counts_always_reach_both_sides(seed):
    df = labelled_frame({'a': 50, 'b': 5, 'c': 5, 'd': 7}, seed=seed)
    tr, va = stratified_split(df, valid_pct=0.2, seed=seed)
    assert set(tr.label) == set(va.label) == {'a', 'b', 'c', 'd'}


def test_stratified_split_too_few_rows_names_class_and_count():
    df = labelled_frame({'food': 30, 'price': 3, 'service': 1})
    with pytest.raises(ReviewDataError) as e: stratified_split(df, valid_pct=0.2)
    msg = str(e.value)
    assert 'at least 5 labelled rows per class' in msg
    assert "class 'price' has 3 labelled rows" in msg and "class 'service' has 1 labelled row" in msg


def test_stratified_split_needs_two_classes():
    with pytest.raises(ReviewDataError, match='at least two classes'):
        stratified_split(labelled_frame({'a': 10}))


def test_stratified_split_warns_about_duplicates_across_sides():
    df = labelled_frame({'a': 20, 'b': 20})
    df = pd.concat([df, df.head(10)], ignore_index=True)
    with pytest.warns(ReviewDataWarning, match='leakage'):
        stratified_split(df, seed=0)


def test_check_split_leakage_warning_with_counts():
    tr = pd.DataFrame({'text': ['Good food', 'bad service', 'ok'], 'label': ['a', 'b', 'a']})
    va = pd.DataFrame({'text': ['good  FOOD', 'new text', 'Good food', 'bad service'], 'label': ['a', 'b', 'a', 'b']})
    with pytest.warns(ReviewDataWarning, match=r'3 texts of the evaluation data \(3 of its 4 rows\) also occur in the '
                                               r'training data'):
        counts = check_split(tr, va)
    assert counts.loc['a'].tolist() == [2, 2]


def test_check_split_class_without_training_rows_is_an_error():
    tr = pd.DataFrame({'text': ['x', 'y'], 'label': ['a', 'b']})
    va = pd.DataFrame({'text': ['z', 'w'], 'label': ['a', 'price']})
    with pytest.raises(ReviewDataError, match=r"class 'price' has 0 labelled rows in the training data \(needs 1\)"):
        check_split(tr, va)
    with pytest.raises(ReviewDataError, match=r"class 'b' has 0 labelled rows in the evaluation data"):
        check_split(tr, va.head(1))
    with pytest.raises(ReviewDataError, match=r"class 'a' has 1 labelled row in the training data \(needs 2\)"):
        check_split(tr, tr.assign(text=['p', 'q']), min_train=2)


def test_repeated_kfold():
    df = labelled_frame({'a': 20, 'b': 10, 'c': 5}, pool=7)
    folds = list(repeated_kfold(df, n_splits=5, n_repeats=3, seed=0))
    assert len(folds) == 15
    labelled = set(np.flatnonzero(df.label.notna()))
    for r in range(3):
        vals = [va for _, va in folds[r * 5:(r + 1) * 5]]
        assert sorted(np.concatenate(vals)) == sorted(labelled)  # each labelled row validated once per repeat
    for tr, va in folds:
        assert set(df.label.iloc[va]) == {'a', 'b', 'c'} and set(df.label.iloc[tr]) == {'a', 'b', 'c'}
        assert set(tr) | set(va) == labelled and not set(tr) & set(va)
    again = list(repeated_kfold(df, n_splits=5, n_repeats=3, seed=0))
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))


def test_repeated_kfold_too_few_rows_fails_at_once():
    df = labelled_frame({'a': 20, 'b': 4})
    with pytest.raises(ReviewDataError, match=r"at least 5 labelled rows per class, but class 'b' has 4 .*fewer folds"):
        repeated_kfold(df, n_splits=5)
    assert len(list(repeated_kfold(df, n_splits=4))) == 4


def test_stratified_sample():
    df = labelled_frame({'a': 300, 'b': 150, 'c': 50}, pool=20)
    s = stratified_sample(df, 100, seed=3)
    assert len(s) == 100 and s.label.value_counts().to_dict() == {'a': 60, 'b': 30, 'c': 10}
    assert list(s.index) == sorted(s.index)
    assert stratified_sample(df, 100, seed=3).index.equals(s.index)


# ---------------------------------------------------------------- demo set

def test_demo_reviews():
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # the shipped demo must be clean
        df = demo_reviews()
    assert df.columns[:2].tolist() == ['text', 'label']
    lab = df.label.dropna()
    assert 120 <= len(lab) <= 250 and 3 <= lab.nunique() <= 4
    assert lab.value_counts().min() >= 10
    assert 150 <= df.label.isna().sum() <= 600
    assert df.text.str.strip().str.len().min() > 0


def test_demo_pool_labels_cover_the_pool():
    df, truth = demo_reviews(), demo_pool_labels()
    pool = df.index[df.label.isna()]
    assert sorted(truth.index) == sorted(pool)
    assert set(truth) <= set(df.label.dropna())
