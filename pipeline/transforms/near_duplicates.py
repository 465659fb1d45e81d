"""Near-duplicates: MinHash LSH over word shingles of each item's text, in Spark.

Only masters are compared (an exact copy shares its master's text, so it takes its master's
group). Pairs at or above `analysis.near_duplicate_threshold` (Jaccard similarity of the
shingle sets) are linked; a group is a connected component of those links, named by its pivot:
the member with the most shingles (the longest text), then the smallest id. Every member's
score is its Jaccard similarity to the pivot. Nothing is collected to the driver.
"""

from __future__ import annotations

from typing import Any

from pipeline.config import AnalysisConfig
from pipeline.transforms.hashes import EXCEPTION_TYPE
from pipeline.transforms.threads import connected_components

# Word characters in any script; everything else separates words.
WORD_SEPARATORS = r"[^\p{L}\p{N}]+"
# Shingles are hashed into this many buckets before MinHash; collisions are negligible at
# 2^20 and MinHash's hash family needs fewer than its prime (2038074743).
SHINGLE_BUCKETS = 1 << 20
LSH_SEED = 20240401
# approxSimilarityJoin keeps distances strictly below its threshold; the epsilon keeps pairs
# exactly at the configured similarity, which the explicit filter then checks.
EPSILON = 1e-9


def with_shingles(texts: Any, words: int) -> Any:
    """texts (id, body) -> (id, shingles): the distinct `words`-word runs of each lower-cased
    text. The ML transformers read each body once; an array lambda over a split would split
    the body again for every shingle."""
    from pyspark.ml.feature import NGram, RegexTokenizer
    from pyspark.sql import functions as F

    tokens = RegexTokenizer(inputCol="body", outputCol="tokens", pattern=WORD_SEPARATORS,
                            gaps=True, toLowercase=True, minTokenLength=1).transform(texts)
    grams = NGram(n=words, inputCol="tokens", outputCol="grams").transform(tokens)
    return grams.select("id", F.array_distinct("grams").alias("shingles"))


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


def similar_pairs(compared: Any, analysis: AnalysisConfig) -> Any:
    """(src, dst, similarity) for each pair of candidates at or above the threshold, src < dst."""
    from pyspark.ml.feature import HashingTF, MinHashLSH
    from pyspark.sql import functions as F

    vectors = HashingTF(inputCol="shingles", outputCol="features", numFeatures=SHINGLE_BUCKETS,
                        binary=True).transform(compared)
    if vectors.isEmpty():  # MinHashLSH.fit reads the first row for the vector size
        return compared.sparkSession.createDataFrame([], "src string, dst string, "
                                                         "similarity double")
    model = MinHashLSH(inputCol="features", outputCol="hashes",
                       numHashTables=analysis.minhash_tables, seed=LSH_SEED).fit(vectors)
    threshold = analysis.near_duplicate_threshold
    joined = model.approxSimilarityJoin(vectors, vectors, 1.0 - threshold + EPSILON,
                                        distCol="distance")
    return (joined.select(F.col("datasetA.id").alias("src"), F.col("datasetB.id").alias("dst"),
                          (1.0 - F.col("distance")).alias("similarity"))
            .where((F.col("src") < F.col("dst")) & (F.col("similarity") >= threshold - EPSILON)))


def jaccard(left: Any, right: Any) -> Any:
    """Jaccard similarity of two arrays of distinct values."""
    from pyspark.sql import functions as F

    union = F.size(F.array_union(left, right))
    return F.when(union > 0, F.size(F.array_intersect(left, right)) / union).otherwise(1.0)


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
