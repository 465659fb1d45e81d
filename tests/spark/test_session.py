"""Tier 2: the Spark session Trawl builds (no services)."""

import pytest

pytestmark = pytest.mark.spark


def test_the_jvm_runs_with_the_configured_options_and_heap(spark, base_config):
    runtime = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    arguments = list(runtime.getInputArguments())
    for option in base_config.spark.java_options.split():
        assert option in arguments
    assert f"-Xmx{base_config.spark.driver_memory}" in arguments


def test_python_workers_inherit_the_bounded_malloc_arenas(spark):
    def arena_limit(_):
        import os
        yield os.environ.get("MALLOC_ARENA_MAX")

    assert spark.sparkContext.parallelize([0], 1).mapPartitions(arena_limit).collect() == ["2"]


def test_adaptive_execution_keeps_few_threads_for_broadcasts_and_shuffles(spark):
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.sql.broadcastExchange.maxThreadThreshold") == "8"
    assert conf.get("spark.sql.shuffleExchange.maxThreadThreshold") == "8"


def test_parquet_writers_cut_row_groups_at_the_bounded_size(spark, tmp_path):
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    from pipeline.spark import PARQUET_ROW_GROUP_BYTES

    # 80 MB of distinct text in one task: the default 128 MB would make one row group of it.
    text = F.concat(*[F.sha2(F.concat(F.col("id").cast("string"), F.lit(f"/{part}")), 512)
                      for part in range(16)])
    (spark.range(0, 40_000, numPartitions=1).select(text.alias("text"))
     .write.option("compression", "none").parquet(str(tmp_path / "out")))
    [written] = list((tmp_path / "out").glob("*.parquet"))
    metadata = pq.ParquetFile(written).metadata
    sizes = [metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups)]
    assert sum(sizes) > 2 * PARQUET_ROW_GROUP_BYTES
    assert len(sizes) >= 3
    assert max(sizes) <= PARQUET_ROW_GROUP_BYTES * 1.1


def test_parquet_writers_build_no_dictionaries(spark, tmp_path):
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    # Three values in 10,000 rows: the default writer would put them in a dictionary.
    (spark.range(0, 10_000, numPartitions=1)
     .select(F.element_at(F.array(F.lit("email"), F.lit("attachment"), F.lit("exception")),
                          (F.col("id") % 3 + 1).cast("int")).alias("type"))
     .write.parquet(str(tmp_path / "out")))
    [written] = list((tmp_path / "out").glob("*.parquet"))
    metadata = pq.ParquetFile(written).metadata
    chunks = [metadata.row_group(group).column(0) for group in range(metadata.num_row_groups)]
    assert chunks
    assert not any(chunk.has_dictionary_page for chunk in chunks)
    assert not any("DICTIONARY" in encoding for chunk in chunks for encoding in chunk.encodings)
