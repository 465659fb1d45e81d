"""The one place a SparkSession is built."""

from __future__ import annotations

import os
import sys

from pipeline.config import SparkConfig
from pipeline.errors import ConfigError


def _use_java(java_home: str) -> None:
    """Start the Spark JVM from `java_home`: pyspark's launcher reads JAVA_HOME. The JVM options
    in conf/ are for that Java, so a missing one is an error rather than a quiet fallback."""
    if not os.access(os.path.join(java_home, "bin", "java"), os.X_OK):
        raise ConfigError(f"spark.java_home is {java_home}, which has no bin/java: install that "
                          f"JDK, or set spark.java_home to another (with java_options it "
                          f"accepts), or to null for the java on PATH")
    os.environ["JAVA_HOME"] = java_home


PARQUET_ROW_GROUP_BYTES = 32 * 1024 * 1024


def build_session(spark: SparkConfig, master: str | None = None):
    """A session for Trawl's jobs. Under spark-submit the submitted master wins over conf/."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    # Workers must run the interpreter that has Trawl's packages, not whatever `python3` is.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # glibc gives each thread that allocates its own 64 MB arena: the JVM and the Python workers
    # it starts (which inherit this) run dozens of threads, and the arenas' slack shows as RSS.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    submitted = SparkConf().contains("spark.master")
    if spark.java_home and not submitted:
        _use_java(spark.java_home)
    builder = (SparkSession.builder.appName(spark.app_name)
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions", str(spark.shuffle_partitions))
               .config("spark.driver.memory", spark.driver_memory)
               .config("spark.python.worker.reuse", "true")
               # Arrow batches (near-duplicate signatures, bulk indexing) stay small, so a batch
               # of long texts cannot take a worker's memory.
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
               # Adaptive execution starts broadcasts and shuffle stages from pools of up to
               # 128 and 1,024 threads; a run left 123 and 99 of them alive, 25 MB of stacks.
               # Two cores gain nothing from more than a few.
               .config("spark.sql.broadcastExchange.maxThreadThreshold", "8")
               .config("spark.sql.shuffleExchange.maxThreadThreshold", "8")
               # A Parquet writer holds its whole row group, compressed, until it reaches this
               # size: at the default 128 MB, two tasks writing the staged items held 171 MB of
               # the heap between them and ran it out.
               .config("spark.hadoop.parquet.block.size", str(PARQUET_ROW_GROUP_BYTES))
               # Most of an item's bytes are in columns whose values are nearly all distinct
               # (bodies, headers, ids, hashes, paths), where a dictionary is built for every
               # row group only to be dropped: without one, writing the analysed items of 1M
               # messages took 18-20 s instead of 27-32, for files 7% larger.
               .config("spark.hadoop.parquet.enable.dictionary", "false")
               .config("spark.ui.showConsoleProgress", "true"))
    if spark.java_options:
        builder = builder.config("spark.driver.extraJavaOptions", spark.java_options)
    if master or not submitted:
        builder = builder.master(master or spark.master)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
