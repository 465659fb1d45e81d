"""The MinHash signatures behind near-duplicate candidates, without Spark."""

from collections import namedtuple

from pipeline.transforms.near_duplicates import (PRIME, _signature_partition,
                                                 minhash_coefficients)

Row = namedtuple("Row", "id shingles")


def signature(shingles, count=256):
    a, b = minhash_coefficients(count)
    [(_, values)] = list(_signature_partition([Row("x", shingles)], a, b))
    return values


def test_the_coefficients_are_seeded_and_below_the_prime():
    a, b = minhash_coefficients(64)
    assert (a, b) == minhash_coefficients(64)
    assert all(1 <= x < PRIME for x in a) and all(0 <= x < PRIME for x in b)


def test_equal_sets_have_equal_signatures_whatever_the_order():
    shingles = [(-1) ** n * n * 7919 * 104729 for n in range(1, 300)]
    assert signature(shingles) == signature(list(reversed(shingles)))


def test_agreeing_values_estimate_the_jaccard_similarity():
    # Two sets of 400 hashes sharing 300: Jaccard 300 / 500 = 0.6.
    common = [n * 2_654_435_761 for n in range(300)]
    left = common + [n * 40_503 + 1 for n in range(100)]
    right = common + [-(n * 40_503 + 7) for n in range(100)]
    agree = sum(x == y for x, y in zip(signature(left), signature(right))) / 256
    assert abs(agree - 0.6) < 0.1
    unrelated = [n * 97 + 3 for n in range(400)]
    assert sum(x == y for x, y in zip(signature(left), signature(unrelated))) / 256 < 0.05


def test_negative_hashes_are_reduced_into_the_field():
    values = signature([-(2 ** 63), 2 ** 63 - 1, -1, 0], count=16)
    assert all(0 <= v < PRIME for v in values)
