"""The MinHash signatures behind near-duplicate candidates, without Spark."""

from pipeline.transforms.near_duplicates import PRIME, minhash_coefficients, signature_batch


def batch_signatures(sets, count):
    a, b = minhash_coefficients(count)
    offsets = [0]
    for shingles in sets:
        offsets.append(offsets[-1] + len(shingles))
    flat = [value for shingles in sets for value in shingles]
    return signature_batch(offsets, flat, a, b).tolist()


def signature(shingles, count=256):
    [values] = batch_signatures([shingles], count)
    return values


def test_each_value_is_the_minimum_of_one_universal_hash_over_the_set():
    shingles = [12345, -987654321, 2 ** 40 + 3, 7]
    a, b = minhash_coefficients(8)
    expected = [min((x * (h % PRIME) + y) % PRIME for h in shingles) for x, y in zip(a, b)]
    assert signature(shingles, count=8) == expected


def test_a_batch_gives_each_item_its_own_signature():
    sets = [[5, 6, 7], [2 ** 50], [n * 31 for n in range(1, 500)], [-3, -4]]
    assert batch_signatures(sets, 32) == [signature(one, count=32) for one in sets]


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
