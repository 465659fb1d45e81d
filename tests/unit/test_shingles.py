"""Word shingles of whole Arrow batches of texts, without Spark, against a plain Python
reading of what a word is."""

import random
import unicodedata

import pyarrow as pa

from pipeline.transforms.near_duplicates import shingle_batch


def words_of(text):
    """The reference: maximal runs of letters and digits (categories L and N), lower-cased."""
    words, current = [], []
    for character in text.lower():
        if unicodedata.category(character)[0] in "LN":
            current.append(character)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def shingle_sets(texts, words=3):
    offsets, shingles = shingle_batch(pa.array(texts, pa.string()), words)
    values = shingles.tolist()
    return [values[offsets[k]:offsets[k + 1]] for k in range(len(texts))]


def runs_of(text, words=3):
    tokens = words_of(text)
    return {tuple(tokens[i:i + words]) for i in range(len(tokens) - words + 1)}


def test_each_text_gets_its_distinct_shingles_in_ascending_order():
    [repeated, plain] = shingle_sets(["a b c a b c a b c", "one two three four"])
    assert len(repeated) == 3  # a b c, b c a, c a b
    assert len(plain) == 2
    assert repeated == sorted(repeated) and plain == sorted(plain)


def test_case_and_punctuation_do_not_change_the_shingles():
    [first, second] = shingle_sets(["The quick brown fox", "  the QUICK, brown... fox!"])
    assert first == second and len(first) == 2


def test_word_order_matters():
    [forward, backward] = shingle_sets(["alpha beta gamma", "gamma beta alpha"], words=3)
    assert forward != backward


def test_short_empty_and_null_texts_have_no_shingles():
    assert shingle_sets(["two words", "", None, "...", "three words here"]) == \
        [[], [], [], [], shingle_sets(["three words here"])[0]]


def test_no_shingle_spans_two_texts():
    # "gamma" ends one text and "delta" opens the next with no separator between their bytes.
    [first, second] = shingle_sets(["alpha beta gamma", "delta epsilon zeta"], words=2)
    [across] = shingle_sets(["gamma delta"], words=2)
    assert across[0] not in first + second


def test_non_ascii_letters_join_words_and_non_ascii_punctuation_separates_them():
    text = "naïve café\u00a0déjà—vu “quoted” 中文字 𝔸𝔹 😀 x²"
    assert words_of(text) == ["naïve", "café", "déjà", "vu", "quoted", "中文字", "𝔸𝔹", "x²"]
    [shingles] = shingle_sets([text], words=1)
    assert len(shingles) == 8
    assert shingles == sorted(shingle_sets([" ".join(words_of(text))], words=1)[0])


def test_equal_shingles_are_equal_word_runs_across_a_random_batch():
    rng = random.Random(7)
    alphabet = list("abcdeé中𝔸1") + [" ", ",", "—", "\u00a0", "😀", "\n", "_"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 120)))
             for _ in range(300)]
    hashes_of_run = {}
    for text, shingles in zip(texts, shingle_sets(texts)):
        runs = runs_of(text)
        assert len(shingles) == len(runs)
        for run in runs:
            [[value]] = shingle_sets([" ".join(run)])
            assert value in shingles
            hashes_of_run.setdefault(run, value)
            assert hashes_of_run[run] == value
    # Distinct runs, distinct hashes.
    assert len(set(hashes_of_run.values())) == len(hashes_of_run)


def test_a_sliced_array_is_read_from_its_own_offset():
    texts = pa.array(["skip these words please", "one two three", "four five six"])
    offsets, shingles = shingle_batch(texts.slice(1), 3)
    expected_offsets, expected = shingle_batch(pa.array(["one two three", "four five six"]),
                                               3)
    assert offsets.tolist() == expected_offsets.tolist() == [0, 1, 2]
    assert shingles.tolist() == expected.tolist()
