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
