"""Near-duplicates: banded MinHash LSH over word shingles of each item's text, in Spark SQL.

Only masters are compared (an exact copy shares its master's text, so it takes its master's
group). Pairs at or above `analysis.near_duplicate_threshold` (Jaccard similarity of the
shingle sets) are linked; a group is a connected component of those links, named by its pivot:
the member with the most shingles (the longest text), then the smallest id. Every member's
score is its Jaccard similarity to the pivot. Nothing is collected to the driver.
"""

from __future__ import annotations

import random
from typing import Any, Iterable, Iterator

from pipeline.config import AnalysisConfig
from pipeline.transforms.hashes import EXCEPTION_TYPE
from pipeline.transforms.threads import connected_components

# Word characters in any script; everything else separates words.
WORD_SEPARATORS = r"[^\p{L}\p{N}]+"
LSH_SEED = 20240401
# Similarities are ratios of set sizes; the epsilon keeps pairs exactly at the threshold.
EPSILON = 1e-9
PRIME = (1 << 31) - 1
# Items sharing one band bucket beyond this many are linked in a star, not pairwise.
MAX_BUCKET = 200


def with_shingles(texts: Any, words: int) -> Any:
    """texts (id, body) -> (id, shingles): the xxhash64 of each distinct `words`-word run of
    each lower-cased text. The ML transformers read each body once; an array lambda over a
    split would split the body again for every shingle."""
    from pyspark.ml.feature import NGram, RegexTokenizer
    from pyspark.sql import functions as F

    tokens = RegexTokenizer(inputCol="body", outputCol="tokens", pattern=WORD_SEPARATORS,
                            gaps=True, toLowercase=True, minTokenLength=1).transform(texts)
    grams = NGram(n=words, inputCol="tokens", outputCol="grams").transform(tokens)
    # Shingles are kept as their 64-bit hashes: a quarter of the bytes to shuffle and compare,
    # and two distinct shingles of one pair collide with probability about n^2 / 2^64.
    return grams.select("id", F.array_distinct(F.transform("grams", lambda g: F.xxhash64(g)))
                        .alias("shingles"))


def candidates(items: Any, analysis: AnalysisConfig) -> Any:
    """(id, shingles) for every master with at least `min_text_chars` of text."""
    from pyspark.sql import functions as F

    long_enough = (~F.col("is_duplicate") & (F.col("type") != EXCEPTION_TYPE)
                   & (F.length("body") >= analysis.min_text_chars))
    return with_shingles(items.where(long_enough).select("id", "body"), analysis.shingle_words)


def comparable(shingled: Any) -> Any:
    """Only items with at least one shingle: MinHash cannot hash an empty set."""
    from pyspark.sql import functions as F

    return shingled.where(F.size("shingles") > 0)


def minhash_coefficients(count: int) -> tuple[list[int], list[int]]:
    """(a_i, b_i) of the universal hash family (a * h + b) mod p, seeded so runs agree."""
    rng = random.Random(LSH_SEED)
    pairs = [(rng.randrange(1, PRIME), rng.randrange(0, PRIME)) for _ in range(count)]
    return [a for a, _ in pairs], [b for _, b in pairs]


def signature_batch(offsets: Any, shingles: Any, a: list[int], b: list[int]) -> Any:
    """MinHash signatures of a batch of items at once: item k's shingles are
    shingles[offsets[k]:offsets[k+1]] (none may be empty). Returns a (len(offsets) - 1, len(a))
    int64 array. One pass over all the batch's shingles per hash function, and a segmented minimum:
    no Python work per item."""
    import numpy as np

    hashes = (np.asarray(shingles, dtype=np.int64) % PRIME).astype(np.uint64)
    starts = np.asarray(offsets[:-1], dtype=np.int64)
    result = np.empty((len(starts), len(a)), dtype=np.int64)
    prime = np.uint64(PRIME)
    for column, (multiplier, offset) in enumerate(zip(a, b)):
        # Both factors are below 2^31, so the product fits in 64 bits without wrapping.
        values = (np.uint64(multiplier) * hashes + np.uint64(offset)) % prime
        result[:, column] = np.minimum.reduceat(values, starts).astype(np.int64)
    return result


def _signature_batches(batches: Iterable[Any], a: list[int], b: list[int]) -> Iterator[Any]:
    import pyarrow as pa

    for batch in batches:
        if batch.num_rows == 0:
            continue
        lists = batch.column("shingles")
        matrix = signature_batch(lists.offsets.to_numpy(), lists.flatten().to_numpy(), a, b)
        signature = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), len(a))
        yield pa.RecordBatch.from_arrays(
            [batch.column("id"), pa.array(lists.value_lengths(), pa.int32()),
             signature.cast(pa.list_(pa.int64()))], ["id", "shingle_count", "signature"])


def signatures(compared: Any, analysis: AnalysisConfig) -> Any:
    """(id, shingle_count, band, bucket): one row per band of each candidate's MinHash
    signature.

    Each shingle's hash is taken mod the Mersenne prime p = 2^31 - 1; hash function i of the
    signature is (a_i * h + b_i) mod p, the universal family MinHash is defined on, with seeded
    a_i and b_i; value i is its minimum over the item's shingles. Signatures are computed in
    numpy over Arrow batches, thousands of items at a time (Spark's higher-order functions are
    interpreted, and 64 of them per shingle cost more than the rest of the analysis; a Python
    loop per item cost most of this step). Band j holds values j*rows .. j*rows+rows-1, and its
    bucket is their xxhash64.
    """
    from pyspark.sql import functions as F

    rows, bands = analysis.minhash_rows, analysis.minhash_bands
    a, b = minhash_coefficients(rows * bands)
    signed = compared.select("id", "shingles").mapInArrow(
        lambda batches: _signature_batches(batches, a, b),
        "id string, shingle_count int, signature array<bigint>")
    return signed.select("id", "shingle_count", F.posexplode(F.transform(
        F.sequence(F.lit(0), F.lit(bands - 1)),
        lambda band: F.xxhash64(F.slice("signature", band * rows + 1, rows))))
        .alias("band", "bucket"))


def similar_pairs(compared: Any, analysis: AnalysisConfig) -> Any:
    """(src, dst, similarity) for enough pairs of candidates at or above the threshold to
    connect every near-duplicate group, src < dst.

    Banded LSH: two items are candidates when all `minhash_rows` values of at least one of
    their `minhash_bands` bands agree, which for Jaccard similarity s happens with probability
    1 - (1 - s^rows)^bands (16 bands of 4: 0.99 at s = 0.7, 0.12 at s = 0.3). The exact Jaccard
    similarity of the shingle sets then decides, in two rounds, because groups are connected
    components and most members of a bucket are alike (a thread quoting itself):

    1. every member of a bucket is compared with the bucket's first (smallest) id;
    2. in a bucket of at most MAX_BUCKET members, a member unlike the first is compared with
       every other member.

    Any pair of one bucket that round 1 leaves out is connected through the first when both are
    like it, and compared in round 2 when either is not, so the components are those of
    comparing every pair in the bucket, at a fraction of the comparisons. A bucket larger than
    MAX_BUCKET (boilerplate) only gets round 1, so no bucket costs more than linear work.

    Neither round compares a pair whose shingle counts alone rule it out (`could_be_alike`):
    at a million items that spared half of the comparisons.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    threshold = analysis.near_duplicate_threshold - EPSILON
    banded = signatures(compared, analysis)
    bucket = Window.partitionBy("band", "bucket")
    shared = (banded.withColumn("size", F.count("*").over(bucket))
              .withColumn("first", F.min("id").over(bucket))
              .withColumn("first_count", F.min_by("shingle_count", "id").over(bucket))
              .where(F.col("size") > 1).localCheckpoint())
    shingles = compared.select("id", "shingles")
    to_first = score_pairs(
        shared.where((F.col("id") != F.col("first"))
                     & could_be_alike(F.col("shingle_count"), F.col("first_count"), threshold))
        .select(F.col("first").alias("src"), F.col("id").alias("dst")).distinct(),
        shingles).localCheckpoint()
    like_first = (to_first.where(F.col("similarity") >= threshold)
                  .select(F.col("src").alias("first"), F.col("dst").alias("id")))
    small = shared.where(F.col("size") <= MAX_BUCKET)
    unlike_first = (small.where(F.col("id") != F.col("first"))
                    .join(like_first, ["first", "id"], "left_anti")
                    .select("band", "bucket", F.col("id").alias("unlike"),
                            F.col("shingle_count").alias("unlike_count")))
    second_round = (unlike_first
                    .join(small.select("band", "bucket", "id", "shingle_count"), ["band", "bucket"])
                    .where((F.col("id") != F.col("unlike"))
                           & could_be_alike(F.col("shingle_count"), F.col("unlike_count"),
                                            threshold))
                    .select(F.least("id", "unlike").alias("src"),
                            F.greatest("id", "unlike").alias("dst"))
                    .distinct())
    linked = to_first.unionByName(score_pairs(second_round, shingles))
    return linked.where(F.col("similarity") >= threshold)


def could_be_alike(count: Any, other_count: Any, threshold: float) -> Any:
    """False when two sets of these sizes cannot reach `threshold`: their Jaccard similarity is
    at most the smaller size over the larger."""
    from pyspark.sql import functions as F

    return F.least(count, other_count) >= F.greatest(count, other_count) * threshold


def score_pairs(pairs: Any, shingles: Any) -> Any:
    """(src, dst) -> (src, dst, similarity): the exact Jaccard similarity of their shingles."""
    from pyspark.sql import functions as F

    return (pairs.join(shingles.select(F.col("id").alias("src"),
                                       F.col("shingles").alias("src_shingles")), "src")
            .join(shingles.select(F.col("id").alias("dst"),
                                  F.col("shingles").alias("dst_shingles")), "dst")
            .select("src", "dst", jaccard(F.col("src_shingles"), F.col("dst_shingles"))
                    .alias("similarity")))


def jaccard(left: Any, right: Any) -> Any:
    """Jaccard similarity of two arrays of distinct values. The union's size follows from the
    intersection's, which halves the set work of comparing."""
    from pyspark.sql import functions as F

    common = F.size(F.array_intersect(left, right))
    union = F.size(left) + F.size(right) - common
    return F.when(union > 0, common / union).otherwise(1.0)


def groups(compared: Any, pairs: Any) -> Any:
    """(id, near_duplicate_group, near_duplicate_score) for every candidate with a near
    duplicate: its component's pivot, and its similarity to that pivot."""
    from pyspark.sql import functions as F

    members = (connected_components(pairs)
               .join(compared.withColumnRenamed("id", "vertex"), "vertex"))
    rank = F.struct((-F.size("shingles")).alias("longest_first"), F.col("vertex"))
    pivots = members.groupBy("component").agg(F.min_by("vertex", rank).alias("pivot"))
    pivot_shingles = compared.select(F.col("id").alias("pivot"),
                                     F.col("shingles").alias("pivot_shingles"))
    return (members.join(pivots, "component").join(pivot_shingles, "pivot")
            .select(F.col("vertex").alias("id"), F.col("pivot").alias("near_duplicate_group"),
                    F.when(F.col("vertex") == F.col("pivot"), F.lit(1.0))
                    .otherwise(jaccard(F.col("shingles"), F.col("pivot_shingles")))
                    .alias("near_duplicate_score")))


def group_near_duplicates(items: Any, analysis: AnalysisConfig) -> Any:
    """items (deduplicated) -> items with near_duplicate_group and near_duplicate_score; every
    copy takes its master's values. Same columns, same order."""
    from pyspark.sql import functions as F

    columns = items.columns
    # Checkpointed before filtering, so the filter cannot re-run the shingling.
    compared = comparable(candidates(items, analysis).localCheckpoint())
    found = groups(compared, similar_pairs(compared, analysis))
    by_master = found.select(F.col("id").alias("master_id"),
                             F.col("near_duplicate_group").alias("nd_group"),
                             F.col("near_duplicate_score").alias("nd_score"))
    return (items.join(by_master, "master_id", "left")
            .withColumn("near_duplicate_group", F.col("nd_group"))
            .withColumn("near_duplicate_score", F.col("nd_score").cast("double"))
            .select(*columns))
