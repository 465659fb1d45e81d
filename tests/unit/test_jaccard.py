"""Exact Jaccard similarity of whole batches of shingle-set pairs, without Spark, against
Python's sets."""

import random

import pyarrow as pa

from pipeline.transforms.near_duplicates import SCORE_SLICE_PAIRS, SHINGLE_BITS, jaccard_batch


def reference(left, right):
    left, right = set(left), set(right)
    union = left | right
    return len(left & right) / len(union) if union else 1.0


def scored(pairs):
    lefts = pa.array([sorted(left) for left, _ in pairs], pa.list_(pa.int64()))
    rights = pa.array([sorted(right) for _, right in pairs], pa.list_(pa.int64()))
    return jaccard_batch(lefts, rights).tolist()


def random_pairs(count, rng):
    largest = (1 << SHINGLE_BITS) - 1
    pairs = []
    for _ in range(count):
        pool = [rng.choice((rng.randrange(60), rng.randrange(largest + 1), largest))
                for _ in range(rng.randrange(0, 90))]
        left = set(rng.sample(pool, rng.randrange(len(pool) + 1)))
        right = set(rng.sample(pool, rng.randrange(len(pool) + 1)))
        pairs.append((left, right))
    return pairs


def test_every_pair_of_a_batch_over_several_slices_equals_pythons_sets():
    rng = random.Random(7)
    pairs = random_pairs(2 * SCORE_SLICE_PAIRS + 37, rng)
    assert scored(pairs) == [reference(left, right) for left, right in pairs]


def test_identical_disjoint_and_empty_sets():
    pairs = [({1, 2, 3}, {1, 2, 3}), ({1, 2}, {3, 4}), (set(), set()), ({5}, set()),
             (set(), {5}), ({(1 << SHINGLE_BITS) - 1}, {(1 << SHINGLE_BITS) - 1})]
    assert scored(pairs) == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]


def test_a_slice_of_an_arrow_batch_is_scored_from_its_own_offsets():
    rng = random.Random(11)
    pairs = random_pairs(50, rng)
    lefts = pa.array([sorted(left) for left, _ in pairs], pa.list_(pa.int64())).slice(20)
    rights = pa.array([sorted(right) for _, right in pairs], pa.list_(pa.int64())).slice(20)
    expected = [reference(left, right) for left, right in pairs[20:]]
    assert jaccard_batch(lefts, rights).tolist() == expected
