"""Near-duplicates: banded MinHash LSH over word shingles of each item's text, in Spark SQL.

Only masters are compared (an exact copy shares its master's text, so it takes its master's
group). Pairs at or above `analysis.near_duplicate_threshold` (Jaccard similarity of the
shingle sets) are linked; a group is a connected component of those links, named by its pivot:
the member with the most shingles (the longest text), then the smallest id. Every member's
score is its Jaccard similarity to the pivot. Nothing is collected to the driver.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from typing import Any, Iterable, Iterator

from pipeline.arrow_strings import string_offsets
from pipeline.config import AnalysisConfig
from pipeline.transforms.hashes import EXCEPTION_TYPE
from pipeline.transforms.threads import connected_components

LSH_SEED = 20240401
# Similarities are ratios of set sizes; the epsilon keeps pairs exactly at the threshold.
EPSILON = 1e-9
PRIME = (1 << 31) - 1
# Texts shingled in one numpy pass (see shingle_batch): at most this many bytes (or one
# longer text), and this many texts, whose positions take the bits above a shingle's.
SHINGLE_SLICE_BYTES = 1 << 20
SHINGLE_BITS = 53
SHINGLE_SLICE_TEXTS = 1 << (64 - SHINGLE_BITS)
# Pairs scored in one numpy pass (see jaccard_batch): their positions take the bits above a
# shingle's in a signed 64-bit key.
SCORE_SLICE_PAIRS = 1 << (63 - SHINGLE_BITS)
# Odd, so that B^-1 exists modulo 2^64.
WORD_HASH_BASE = 0x100000001B3
# Odd, so that multiplying by it modulo 2^64 loses nothing of a word's hash.
SHINGLE_MULTIPLIER = 0x9E3779B97F4A7C15
# Items sharing one band bucket beyond this many are linked in a star, not pairwise.
MAX_BUCKET = 200


def shingle_batch(bodies: Any, words: int) -> tuple[Any, Any]:
    """(offsets, shingles) of an Arrow string array: text k's shingles are
    shingles[offsets[k]:offsets[k+1]], distinct and in ascending order; a text of fewer than
    `words` words (or none) has none.

    A word is a run of letters and digits (Unicode categories L and N) of the lower-cased text;
    a shingle is a run of `words` consecutive words, kept as a hash of SHINGLE_BITS bits. Whole
    slices of the batch are done at once in numpy over the UTF-8 bytes Arrow holds: no Python
    string per word or per shingle (Spark's tokenizer and n-grams made both, and a regular
    expression over the batch was slower still). A word's hash is a polynomial of its bytes
    modulo 2^64, taken from prefix sums; a shingle's is a polynomial of its words' hashes
    through the splitmix64 finaliser, cut to its top bits. Two distinct shingles of one pair
    collide with probability about n^2 / 2^54. The numpy work takes some 50 bytes per byte of
    text, so texts go in slices of about SHINGLE_SLICE_BYTES (a longer text alone)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    lowered = pc.utf8_lower(bodies)
    if isinstance(lowered, pa.ChunkedArray):
        lowered = lowered.combine_chunks()
    text_offsets, _ = _utf8_buffers(lowered)
    counts, values = [], []
    first = 0
    while first < len(lowered):
        last = int(np.searchsorted(text_offsets, text_offsets[first] + SHINGLE_SLICE_BYTES,
                                   side="right")) - 1
        last = min(max(last, first + 1), first + SHINGLE_SLICE_TEXTS)
        slice_counts, slice_values = _shingle_slice(lowered.slice(first, last - first), words)
        counts.append(slice_counts)
        values.append(slice_values)
        first = last
    offsets = np.zeros(len(lowered) + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=offsets[1:])
    return offsets, np.concatenate(values) if values else np.zeros(0, dtype=np.int64)


def _shingle_slice(lowered: Any, words: int) -> tuple[Any, Any]:
    """(shingle count of each text, their shingles text by text) of lower-cased texts."""
    import numpy as np

    count = len(lowered)
    text_offsets, data = _utf8_buffers(lowered)
    starts, ends = _word_spans(data, text_offsets)
    owners = np.searchsorted(text_offsets, starts, side="right") - 1
    hashes = _span_hashes(data, starts, ends)

    words_per_text = np.bincount(owners, minlength=count)
    runs = max(len(hashes) - words + 1, 0)
    # A run starting at a text's word p is whole when p + words <= that text's word count.
    run_owners = owners[:runs]
    first_word = np.cumsum(words_per_text) - words_per_text
    whole = np.arange(runs) - first_word[run_owners] <= words_per_text[run_owners] - words
    combined = hashes[:runs].copy()
    for position in range(1, words):
        combined = combined * np.uint64(SHINGLE_MULTIPLIER) + hashes[position:position + runs]
    # The text's position above the shingle's top bits: one sort of plain integers orders the
    # slice by text, then by shingle, and equal neighbours are repeats.
    keys = (run_owners[whole].astype(np.uint64) << np.uint64(SHINGLE_BITS)) | \
        (_splitmix64(combined)[whole] >> np.uint64(64 - SHINGLE_BITS))
    keys.sort()
    distinct = np.ones(len(keys), dtype=bool)
    distinct[1:] = keys[1:] != keys[:-1]
    keys = keys[distinct]
    shingles = (keys & np.uint64((1 << SHINGLE_BITS) - 1)).astype(np.int64)
    owners = (keys >> np.uint64(SHINGLE_BITS)).astype(np.int64)
    return np.bincount(owners, minlength=count), shingles


def _utf8_buffers(strings: Any) -> tuple[Any, Any]:
    """(offsets, bytes) of an Arrow string array, offsets rebased to its first byte; a null
    is an empty string."""
    import numpy as np

    offsets = string_offsets(strings)
    data_buffer = strings.buffers()[2]
    if data_buffer is None:
        return offsets - offsets[0], np.zeros(0, dtype=np.uint8)
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]:offsets[-1]]
    return offsets - offsets[0], data


def _word_spans(data: Any, text_offsets: Any) -> tuple[Any, Any]:
    """(starts, ends) byte positions of every word of the UTF-8 `data`: maximal runs of
    letters and digits that do not cross a text boundary."""
    import numpy as np

    table = _word_characters()
    is_word = np.concatenate([table[:0x80], np.zeros(0x80, dtype=bool)])[data]
    beyond_ascii = np.flatnonzero(data >= 0x80)
    if len(beyond_ascii):
        is_continuation = (data[beyond_ascii] & 0xC0) == 0x80
        leads = beyond_ascii[~is_continuation]
        lead_bytes = data[leads].astype(np.uint32)
        codes = np.full(len(leads), 0x110000, dtype=np.uint32)  # invalid: not a word
        # 2, 3 and 4-byte sequences, each decoded from the bytes after its lead.
        for marker, mask, length in ((0xC0, 0x1F, 2), (0xE0, 0x0F, 3), (0xF0, 0x07, 4)):
            at = np.flatnonzero((lead_bytes >= marker)
                                & (lead_bytes < marker + (0x40 >> (length - 1))))
            value = lead_bytes[at] & mask
            for following in range(1, length):
                value = (value << 6) | (data.take(leads[at] + following, mode="clip") & 0x3F)
            codes[at] = value
        lead_is_word = np.concatenate([table, [False]])[np.minimum(codes, 0x110000)]
        is_word[leads] = lead_is_word
        # A continuation byte belongs to the character the nearest lead before it starts.
        continuations = beyond_ascii[is_continuation]
        lead_of = np.searchsorted(leads, continuations, side="right") - 1
        is_word[continuations] = (lead_of >= 0) & lead_is_word[np.maximum(lead_of, 0)]
    boundary = np.zeros(len(data) + 1, dtype=bool)
    boundary[text_offsets] = True
    before = np.concatenate([[False], is_word])
    after = np.concatenate([is_word, [False]])
    starts = np.flatnonzero(after & (~before | boundary))
    ends = np.flatnonzero(before & (~after | boundary))
    return starts, ends


@functools.lru_cache(maxsize=1)
def _word_characters() -> Any:
    """For every code point, whether it is a letter or a digit (Unicode categories L and N)."""
    import numpy as np

    return np.fromiter((unicodedata.category(chr(point))[0] in "LN"
                        for point in range(0x110000)), dtype=bool, count=0x110000)


def _span_hashes(data: Any, starts: Any, ends: Any) -> Any:
    """The 64-bit hash of each byte span data[start:end]: sum of (byte_j + 1) * B^(j - start)
    modulo 2^64 from prefix sums (B is odd, so B^-start exists modulo 2^64), with the length
    mixed in and the splitmix64 finaliser applied."""
    import numpy as np

    base = np.uint64(WORD_HASH_BASE)
    powers = np.empty(len(data) + 1, dtype=np.uint64)
    powers[0] = 1
    powers[1:] = base
    powers = np.cumprod(powers, dtype=np.uint64)
    inverse_powers = np.empty(len(data) + 1, dtype=np.uint64)
    inverse_powers[0] = 1
    inverse_powers[1:] = np.uint64(pow(WORD_HASH_BASE, -1, 1 << 64))
    inverse_powers = np.cumprod(inverse_powers, dtype=np.uint64)
    prefix = np.zeros(len(data) + 1, dtype=np.uint64)
    np.cumsum((data.astype(np.uint64) + np.uint64(1)) * powers[:-1], out=prefix[1:])
    spans = (prefix[ends] - prefix[starts]) * inverse_powers[starts]
    return _splitmix64(spans ^ (ends - starts).astype(np.uint64) * np.uint64(SHINGLE_MULTIPLIER))


def _splitmix64(values: Any) -> Any:
    """splitmix64's finaliser: every bit of the input moves every bit of the output."""
    import numpy as np

    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _shingle_batches(batches: Iterable[Any], words: int) -> Iterator[Any]:
    import pyarrow as pa

    for batch in batches:
        if batch.num_rows == 0:
            continue
        offsets, shingles = shingle_batch(batch.column("body"), words)
        yield pa.RecordBatch.from_arrays(
            [batch.column("id"), pa.ListArray.from_arrays(pa.array(offsets, pa.int32()),
                                                          pa.array(shingles, pa.int64()))],
            ["id", "shingles"])


def with_shingles(texts: Any, words: int) -> Any:
    """texts (id, body) -> (id, shingles): each text's distinct `words`-word shingles as
    SHINGLE_BITS-bit hashes, in ascending order (`shingle_batch`), a thousand texts at a time.
    Spark's tokenizer and n-grams made a string per word and per shingle: at 1M items they took
    144 s where this takes 41."""
    return texts.select("id", "body").mapInArrow(
        lambda batches: _shingle_batches(batches, words), "id string, shingles array<bigint>")


def candidates(items: Any, texts: Any, analysis: AnalysisConfig) -> Any:
    """(id, shingles) for every master in `items` whose text in `texts` (id, body) has at least
    `min_text_chars`."""
    from pyspark.sql import functions as F

    masters = items.where(~F.col("is_duplicate") & (F.col("type") != EXCEPTION_TYPE)).select("id")
    long_enough = texts.where(F.length("body") >= analysis.min_text_chars).select("id", "body")
    # A hash of the masters' ids on each side of the shuffle, so the texts need no sort.
    return with_shingles(masters.hint("shuffle_hash").join(long_enough, "id"),
                         analysis.shingle_words)


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

    joined = (pairs.join(shingles.select(F.col("id").alias("src"),
                                         F.col("shingles").alias("src_shingles")), "src")
              .join(shingles.select(F.col("id").alias("dst"),
                                    F.col("shingles").alias("dst_shingles")), "dst"))
    return with_similarity(joined, "src_shingles", "dst_shingles", ["src", "dst"])


def with_similarity(frame: Any, left: str, right: str, keep: list[str]) -> Any:
    """frame -> its `keep` columns and `similarity`, the Jaccard similarity of the shingle
    arrays in columns `left` and `right` (`jaccard_batch`, a batch of rows at a time). Spark's
    array_intersect hashed one array per pair: at a million items, scoring took a third less
    time this way."""
    import pyarrow as pa

    def score(batches: Iterable[Any]) -> Iterator[Any]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            similarity = jaccard_batch(batch.column(left), batch.column(right))
            yield pa.RecordBatch.from_arrays(
                [batch.column(name) for name in keep] + [pa.array(similarity, pa.float64())],
                keep + ["similarity"])

    schema = frame.select(*keep).schema.add("similarity", "double", nullable=False)
    return frame.select(*keep, left, right).mapInArrow(score, schema)


def jaccard_batch(left: Any, right: Any) -> Any:
    """The Jaccard similarity of each pair of shingle sets: pair k's are left[k] and right[k]
    of two Arrow list arrays of int64, each set distinct, in ascending order and below
    2^SHINGLE_BITS. Two empty sets are alike (1.0).

    Pairs go in slices of SCORE_SLICE_PAIRS, whose positions take the bits above a shingle's,
    so that each side of the slice is one ascending array; one binary search of the right
    side's values in the left's finds every common shingle. The union's size follows from the
    intersection's."""
    import numpy as np

    left_offsets = left.offsets.to_numpy().astype(np.int64)
    right_offsets = right.offsets.to_numpy().astype(np.int64)
    left_values = left.values.to_numpy().astype(np.int64, copy=False)
    right_values = right.values.to_numpy().astype(np.int64, copy=False)
    pairs = len(left_offsets) - 1
    common = np.zeros(pairs, dtype=np.int64)
    for first in range(0, pairs, SCORE_SLICE_PAIRS):
        last = min(first + SCORE_SLICE_PAIRS, pairs)
        left_keys = _positioned(left_offsets[first:last + 1], left_values)
        right_keys = _positioned(right_offsets[first:last + 1], right_values)
        if len(left_keys) == 0 or len(right_keys) == 0:
            continue
        found = np.minimum(np.searchsorted(left_keys, right_keys), len(left_keys) - 1)
        shared = right_keys[left_keys[found] == right_keys]
        common[first:last] = np.bincount(shared >> SHINGLE_BITS, minlength=last - first)
    union = np.diff(left_offsets) + np.diff(right_offsets) - common
    return np.where(union > 0, common / np.maximum(union, 1), 1.0)


def _positioned(offsets: Any, values: Any) -> Any:
    """values[offsets[0]:offsets[-1]], each with its set's position (from 0) above its bits."""
    import numpy as np

    positions = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
    return (positions << SHINGLE_BITS) | values[offsets[0]:offsets[-1]]


def groups(compared: Any, pairs: Any) -> Any:
    """(id, near_duplicate_group, near_duplicate_score) for every candidate with a near
    duplicate: its component's pivot, and its similarity to that pivot (1.0 for the pivot)."""
    from pyspark.sql import functions as F

    # The pivots are chosen by the members' sizes alone; the arrays join only the pairs of a
    # member and its pivot, to score them.
    sizes = compared.select(F.col("id").alias("vertex"), F.size("shingles").alias("size"))
    members = connected_components(pairs).join(sizes, "vertex")
    rank = F.struct((-F.col("size")).alias("longest_first"), F.col("vertex"))
    pivots = members.groupBy("component").agg(F.min_by("vertex", rank).alias("pivot"))
    to_pivot = members.join(pivots, "component").select(F.col("vertex").alias("src"),
                                                         F.col("pivot").alias("dst"))
    scored = score_pairs(to_pivot, compared.select("id", "shingles"))
    return scored.select(F.col("src").alias("id"), F.col("dst").alias("near_duplicate_group"),
                         F.col("similarity").alias("near_duplicate_score"))


# What the near-duplicate step sets, on every item whose master has near duplicates.
NEAR_DUPLICATE_COLUMNS = ("near_duplicate_group", "near_duplicate_score")


def near_duplicate_decisions(items: Any, texts: Any, analysis: AnalysisConfig) -> Any:
    """items (deduplicated), texts (id, body) -> (id, near_duplicate_group,
    near_duplicate_score) for every item whose master has near duplicates: every copy takes its
    master's values. Other items have no row, and their columns stay null.

    The texts come apart from the items, so that the analysis need not carry every body
    through each step's checkpoint and join to read the masters' once."""
    # Checkpointed before filtering, so the filter cannot re-run the shingling.
    compared = comparable(candidates(items, texts, analysis).localCheckpoint())
    found = groups(compared, similar_pairs(compared, analysis))
    return (items.select("id", "master_id")
            .join(found.withColumnRenamed("id", "master_id"), "master_id")
            .select("id", *NEAR_DUPLICATE_COLUMNS))
