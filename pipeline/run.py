"""The main job, wired from its pure steps: extract, stage the raw items, analyse them (hashes,
dedup, threads, near-duplicates), stage the result, index it.

Both `trawl run` and `jobs/ingest.py` (spark-submit) call `run_case`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cms.transform import describe_exports, record_items, write_rejects
from pipeline.config import Config, IngestConfig
from pipeline.extract import check_tika
from pipeline.index.bulk import index_items
from pipeline.index.client import connect
from pipeline.index.indices import prepare_index, publish_index
from pipeline.manifest import Manifest
from pipeline.progress import StageReporter
from pipeline.reconcile import source_counts, write_sources
from pipeline.schema import es_field_names
from pipeline.transforms.analyse import analyse
from pipeline.transforms.ingest import (describe_sources, files_frame, plan_work_units,
                                        read_items, read_partition_count)

STAGES = 6


@dataclass
class RunSummary:
    case: str
    alias: str
    index: str
    files: int
    files_by_format: dict[str, int]
    work_units: int
    items_by_type: dict[str, int]
    items_by_custodian: dict[str, int]
    exceptions: int
    staged: int
    indexed: int
    index_failed: int
    seconds: float
    staging_dir: str
    dead_letter_dir: str
    dedup: str = "global"
    unique_items: int = 0
    duplicate_items: int = 0
    threads: int = 0
    near_duplicate_groups: int = 0
    problems: list[str] = field(default_factory=list)
    # Wall seconds per stage (list, detect, read, analyse, index, publish), and per analysis
    # step (hashes, dedup, threads, near_duplicates), for the benchmark and for tuning.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    analysis_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def reconciled(self) -> bool:
        return self.staged == self.indexed and self.index_failed == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reconciled"] = self.reconciled
        return data


def _count_by(frame: Any, column: str) -> dict[str, int]:
    return {row[column] or "": row["count"]
            for row in frame.groupBy(column).count().orderBy(column).collect()}


def _total_size(sources: Any) -> int:
    from pyspark.sql import functions as F

    return int(sources.agg(F.sum("size")).first()[0] or 0)


def _analysis_counts(staged: Any) -> dict[str, int]:
    """Unique and duplicate items (exceptions aside), threads and near-duplicate groups: one
    small aggregate row."""
    from pyspark.sql import functions as F

    items = staged.where(F.col("type") != "exception")
    row = items.agg(F.sum(F.when(~F.col("is_duplicate"), 1).otherwise(0)).alias("unique_items"),
                    F.sum(F.when(F.col("is_duplicate"), 1).otherwise(0)).alias("duplicate_items"),
                    F.countDistinct("thread_id").alias("threads"),
                    F.countDistinct("near_duplicate_group").alias("near_duplicate_groups")
                    ).first()
    return {name: int(row[name] or 0) for name in row.asDict()}


def run_scratch_dir(ingest: IngestConfig, case: str) -> Path:
    """This run's own folder under ingest.scratch_dir (or the system's temporary folder), which
    the read stage's units share and the job removes after it."""
    base = Path(ingest.scratch_dir) if ingest.scratch_dir else Path(tempfile.gettempdir())
    return base / f"trawl-run-{case}-{os.getpid()}-{time.time_ns()}"


def run_case(manifest: Manifest, config: Config, spark: Any,
             reporter: StageReporter | None = None) -> RunSummary:
    reporter = reporter or StageReporter(STAGES)
    started = time.monotonic()
    case_dir = config.paths.case_dir(manifest.case)
    sources_dir, items_dir = case_dir / "sources.parquet", case_dir / "items.parquet"
    raw_items_dir = case_dir / "items-raw.parquet"  # as read, before analysis
    dead_letter_dir = case_dir / "dead-letters"
    shutil.rmtree(dead_letter_dir, ignore_errors=True)
    client = connect(config.elasticsearch)
    check_tika(config.tika)

    reporter.stage_started(f"case {manifest.case}: listing files for "
                           f"{len(manifest.sources)} custodian(s) and "
                           f"{len(manifest.records)} record export(s)", name="list")
    files = files_frame(spark, manifest)

    reporter.stage_started("hashing files and detecting formats", name="detect")
    describe_sources(files).write.mode("overwrite").parquet(str(sources_dir))
    sources = spark.read.parquet(str(sources_dir))
    exports_dir = case_dir / "exports.parquet"
    describe_exports(spark, manifest).write.mode("overwrite").parquet(str(exports_dir))
    exports = spark.read.parquet(str(exports_dir))
    record_frame, export_sources = record_items(spark, manifest, config, exports)
    all_sources = sources.unionByName(export_sources)
    files_by_format = _count_by(all_sources, "format")
    file_count = sum(files_by_format.values())
    reporter.say(f"{file_count} file(s): " + ", ".join(f"{n} {f}" for f, n in
                                                       files_by_format.items()))

    units = plan_work_units(sources, config.spark.split_bytes).cache()
    unit_count = units.count()
    tasks = read_partition_count(unit_count, _total_size(sources), config.spark.split_bytes,
                                 spark.sparkContext.defaultParallelism)
    reporter.stage_started(f"reading {unit_count} work unit(s) in {tasks} task(s) into the "
                           f"staging store", name="read")
    scratch = run_scratch_dir(config.ingest, manifest.case)
    try:
        read_items(units, config.tika,
                   dataclasses.replace(config.ingest, scratch_dir=str(scratch)), tasks) \
            .unionByName(record_frame).write.mode("overwrite").parquet(str(raw_items_dir))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    units.unpersist()

    reporter.stage_started(f"analysing: hashes, {manifest.dedup} dedup, threads and "
                           f"near-duplicates (threshold "
                           f"{config.analysis.near_duplicate_threshold})", name="analyse")
    raw_items = spark.read.parquet(str(raw_items_dir))
    analysis_seconds: dict[str, float] = {}
    analysed = analyse(raw_items, manifest.dedup, config.analysis, analysis_seconds)
    write_started = time.monotonic()
    analysed.write.mode("overwrite").parquet(str(items_dir))
    analysis_seconds["write"] = round(time.monotonic() - write_started, 3)
    staged = spark.read.parquet(str(items_dir))
    items_by_type = _count_by(staged, "type")
    staged_count = sum(items_by_type.values())
    items_by_custodian = _count_by(
        staged.where("type != 'exception' AND custodian IS NOT NULL"), "custodian")
    analysis = _analysis_counts(staged)
    reporter.say(f"{staged_count} record(s) staged: " + ", ".join(
        f"{n} {t}" for t, n in items_by_type.items()))
    reporter.say(f"{analysis['unique_items']} unique item(s), {analysis['duplicate_items']} "
                 f"duplicate(s), {analysis['threads']} thread(s), "
                 f"{analysis['near_duplicate_groups']} near-duplicate group(s)")
    write_sources(case_dir, source_counts(all_sources, staged, exports))
    rejects = write_rejects(staged, case_dir)
    if rejects:
        reporter.say(f"{rejects} case-record row(s) rejected: see {case_dir / 'rejects.jsonl'}")

    reporter.stage_started(f"indexing {staged_count} record(s) into Elasticsearch",
                           name="index")
    case_index = prepare_index(client, config.elasticsearch, manifest.case)
    outcome = index_items(staged, es_field_names(), config.elasticsearch, case_index.index,
                          str(dead_letter_dir))

    reporter.stage_started(f"publishing {case_index.index} as {case_index.alias}",
                           name="publish")
    publish_index(client, case_index)
    summary = RunSummary(
        case=manifest.case, alias=case_index.alias, index=case_index.index, files=file_count,
        files_by_format=files_by_format, work_units=unit_count, items_by_type=items_by_type,
        items_by_custodian=items_by_custodian, exceptions=items_by_type.get("exception", 0),
        staged=staged_count, indexed=outcome.indexed, index_failed=outcome.failed,
        seconds=round(time.monotonic() - started, 1), staging_dir=str(case_dir),
        dead_letter_dir=str(dead_letter_dir), dedup=manifest.dedup,
        stage_seconds=reporter.stage_seconds(), analysis_seconds=analysis_seconds, **analysis)
    if not summary.reconciled:
        summary.problems.append(
            f"{staged_count} record(s) staged but {outcome.indexed} indexed and "
            f"{outcome.failed} rejected by Elasticsearch: see {dead_letter_dir}")
    reporter.say(f"done: {outcome.indexed} indexed, {outcome.failed} rejected, "
                 f"{summary.exceptions} exception record(s)")
    return summary


def run_manifest(manifest_path: str, config: Config, master: str | None = None) -> RunSummary:
    """Load a manifest, run it on a session of its own, and stop the session afterwards."""
    from pipeline.manifest import load_manifest
    from pipeline.spark import build_session

    manifest = load_manifest(manifest_path)
    spark = build_session(config.spark, master)
    try:
        return run_case(manifest, config, spark)
    finally:
        spark.stop()
