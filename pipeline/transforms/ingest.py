"""From manifest paths to items, as DataFrame-to-DataFrame steps.

files (one row per evidence file) -> sources (hashed, format detected) -> work units (a file or
a byte range of it) -> items (the item schema). Workers open the files themselves: only paths
and small rows travel through the driver.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterable, Iterator

from pipeline.config import IngestConfig, TikaConfig
from pipeline.extract import TextExtractor
from pipeline.families import file_hashes
from pipeline.mail import Origin, ParseContext, exception_item
from pipeline.manifest import Manifest
from pipeline.records import SourceFile, WorkUnit
from pipeline.sources import detect_reader, reader_named
from pipeline.transforms.hashes import hash_when_read

def _struct(fields: list[tuple[str, str]]) -> Any:
    from pyspark.sql import types as T

    types = {"string": T.StringType(), "long": T.LongType()}
    return T.StructType([T.StructField(name, types[kind], True) for name, kind in fields])


FILE_FIELDS = [("case", "string"), ("custodian", "string"), ("custodian_id", "string"),
               ("path", "string"), ("size", "long")]
SOURCE_FIELDS = FILE_FIELDS + [("format", "string"), ("md5", "string"), ("sha256", "string"),
                               ("error", "string")]
UNIT_FIELDS = [("case", "string"), ("custodian", "string"), ("custodian_id", "string"),
               ("path", "string"), ("format", "string"), ("start", "long"), ("end", "long")]


def discover_files(manifest: Manifest) -> list[tuple[str, str, str, str, int]]:
    """Every file under the manifest's paths, in a stable order. Directories are walked fully."""
    rows = []
    for source in manifest.sources:
        seen: set[str] = set()
        for root in source.paths:
            for path in walk_files(root):
                if path not in seen:
                    seen.add(path)
                    rows.append((manifest.case, source.custodian, source.custodian_id, path,
                                 os.path.getsize(path)))
    return rows


def walk_files(root: os.PathLike[str] | str) -> Iterator[str]:
    """Every file under `root` (or `root` itself), sub-folders and names in sorted order."""
    root = os.fspath(root)
    if os.path.isfile(root):
        yield root
        return
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                yield path


def files_frame(spark: Any, manifest: Manifest) -> Any:
    return spark.createDataFrame(discover_files(manifest), _struct(FILE_FIELDS))


def describe_file(case: str, custodian: str, custodian_id: str, path: str,
                  size: int) -> SourceFile:
    """Chain of custody for one file: its hashes and size as found, and the format it holds."""
    try:
        md5, sha256 = file_hashes(path)
    except OSError as exc:
        return SourceFile(case, custodian, custodian_id, path, size, "unsupported",
                          error=f"unreadable: {exc}")
    return SourceFile(case, custodian, custodian_id, path, size, detect_reader(path).name,
                      md5, sha256)


def describe_sources(files: Any) -> Any:
    """files -> sources: hash each file and detect its format, in the workers."""
    rows = files.rdd.map(lambda row: dataclasses.astuple(describe_file(*row)))
    return files.sparkSession.createDataFrame(rows, _struct(SOURCE_FIELDS))


def plan_work_units(sources: Any, split_bytes: int) -> Any:
    """sources -> work units: large files that can be split become several units."""
    def plan(row: Any) -> list[tuple]:
        source = SourceFile(**row.asDict())
        return [dataclasses.astuple(unit)
                for unit in reader_named(source.format).plan(source, split_bytes)]

    return sources.sparkSession.createDataFrame(sources.rdd.flatMap(plan), _struct(UNIT_FIELDS))


def _read_partition(units: Iterable[dict], tika: TikaConfig,
                    ingest: IngestConfig) -> Iterator[tuple]:
    context = ParseContext(extractor=TextExtractor(tika), ingest=ingest)
    for row in units:
        unit = WorkUnit(**row)
        try:
            for item in reader_named(unit.format).read(unit, context):
                yield hash_when_read(item).to_row()
        except Exception as exc:  # a reader bug must cost one unit, never the job
            origin = Origin(unit.case, unit.custodian, unit.custodian_id, unit.path, unit.format,
                            f"offset {unit.start}")
            yield exception_item(origin, None, "read unit", "reader_error",
                                 f"{type(exc).__name__}: {exc}").to_row()


def read_partition_count(unit_count: int, total_bytes: int, split_bytes: int,
                         parallelism: int) -> int:
    """How many read tasks: about one per `split_bytes` of input, at least two per core, never
    more than there are units. One task per unit would cost a task's fixed overhead for every
    small EML or MSG file; one task for everything would leave cores idle."""
    by_bytes = -(-max(total_bytes, 0) // max(split_bytes, 1))
    return max(1, min(unit_count, max(by_bytes, 2 * max(parallelism, 1))))


# Items per Arrow batch handed to the JVM: a few MB of rows at the corpus's sizes.
ITEMS_PER_BATCH = 1000


def read_items(units: Any, tika: TikaConfig, ingest: IngestConfig, partitions: int) -> Any:
    """work units -> items, spread round-robin over `partitions` tasks. The items cross to the
    JVM as Arrow batches (`mapInArrow`): pickled rows cost the JVM a Java object per field to
    unpickle and convert, on the same cores the readers need."""
    from pipeline.schema import spark_schema

    return units.repartition(max(partitions, 1)).mapInArrow(
        lambda batches: _read_batches(batches, tika, ingest), spark_schema())


def _read_batches(batches: Iterable[Any], tika: TikaConfig,
                  ingest: IngestConfig) -> Iterator[Any]:
    from pipeline.arrow_items import item_batch, item_schema

    schema = item_schema()
    units = (row for batch in batches for row in batch.to_pylist())
    rows: list[tuple] = []
    for row in _read_partition(units, tika, ingest):
        rows.append(row)
        if len(rows) >= ITEMS_PER_BATCH:
            yield item_batch(rows, schema)
            rows = []
    if rows:
        yield item_batch(rows, schema)
