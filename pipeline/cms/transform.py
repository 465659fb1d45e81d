"""Case-management exports as a Spark job: items and chain of custody, read in the workers.

The driver lists the export files and loads their mappings (every mapping problem is raised
before any work starts); one task per export file then reads it, so nothing per row travels
through the driver. Ids are deterministic, so a re-run overwrites instead of duplicating.

    exports = describe_exports(spark, manifest)        # hashes, format, rows read, per file
    items, sources = record_items(spark, manifest, config, exports)
    ... stage items ...
    write_rejects(staged, case_dir)                    # <case_dir>/rejects.jsonl
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from pipeline.cms.linking import CustodianLinker
from pipeline.cms.mapping import RecordMapping, load_mapping
from pipeline.cms.normalise import REJECT_CLASS, REJECT_PREFIX, ExportFile, export_items
from pipeline.cms.readers import detect_format, open_export
from pipeline.config import Config
from pipeline.errors import RecordExportError
from pipeline.manifest import Manifest
from pipeline.transforms.ingest import SOURCE_FIELDS, _struct, walk_files

# The mail sources' fields, then what only an export has: its system and its rows read.
EXPORT_FIELDS = SOURCE_FIELDS + [("system", "string"), ("rows_read", "long")]
SOURCE_COLUMNS = [name for name, _ in SOURCE_FIELDS]
REJECTS_FILE = "rejects.jsonl"
HASH_CHUNK = 1 << 20


def export_files(manifest: Manifest) -> list[ExportFile]:
    """Every export file of the manifest's `records`, with its loaded mapping, in a stable order.

    Raises RecordMappingError for a bad mapping file, before any Spark work.
    """
    mappings: dict[tuple[str, Path], RecordMapping] = {}
    files: list[ExportFile] = []
    for record in manifest.records:
        key = (record.system, record.mapping)
        if key not in mappings:
            mappings[key] = load_mapping(record.mapping, record.system)
        seen: set[str] = set()
        for root in record.paths:
            for path in walk_files(root):
                if path not in seen:
                    seen.add(path)
                    files.append(ExportFile(manifest.case, record.system, path, mappings[key]))
    return files


def _hash_file(path: str) -> tuple[int, str, str]:
    md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return size, md5.hexdigest(), sha256.hexdigest()


def _count_rows(export_file: ExportFile) -> tuple[str | None, int, str | None]:
    """(format, rows read, error). Counts up to where a damaged file stops being readable,
    exactly as far as `export_items` gets, so rows read = records + rejects holds anyway."""
    rows, export_format = 0, None
    try:
        export_format = detect_format(export_file.path, export_file.mapping.format)
        export = open_export(export_file.path, export_file.mapping)
        for _ in export.rows():
            rows += 1
    except (RecordExportError, OSError, UnicodeDecodeError) as exc:
        return export_format, rows, f"unreadable: {exc}"
    return export_format, rows, None


def describe_export(export_file: ExportFile) -> tuple:
    """One export's chain of custody, in EXPORT_FIELDS order: hashes, format and rows read."""
    path = export_file.path
    try:
        size, md5, sha256 = _hash_file(path)
    except OSError as exc:
        return (export_file.case, export_file.system, None, path, 0, "unsupported", None, None,
                f"unreadable: {exc}", export_file.system, 0)
    export_format, rows, error = _count_rows(export_file)
    return (export_file.case, export_file.system, None, path, size,
            export_format or "unsupported", md5, sha256, error, export_file.system, rows)


def describe_exports(spark: Any, manifest: Manifest) -> Any:
    """One row per export file (EXPORT_FIELDS), computed in the workers, one task per file.

    An export's `custodian` column holds its system's name: the file belongs to no custodian.
    """
    files = export_files(manifest)
    rdd = spark.sparkContext.parallelize(files, max(len(files), 1)).map(describe_export)
    return spark.createDataFrame(rdd, _struct(EXPORT_FIELDS))


def record_items(spark: Any, manifest: Manifest, config: Config,
                 exports: Any = None) -> tuple[Any, Any]:
    """(items, sources): record and reject items in the item schema (spark_schema()), and one
    row per export file in the same schema as pipeline.transforms.ingest's sources frame
    (SOURCE_FIELDS), with format 'csv'/'json'/'jsonl'/'xlsx'.

    Pass `exports` (describe_exports' frame) to reuse it; the sources are its SOURCE_FIELDS.
    """
    from pipeline.schema import spark_schema

    files = export_files(manifest)
    linker = CustodianLinker.from_sources(manifest.sources)
    max_text_chars = config.ingest.max_text_chars

    def read(export_file: ExportFile) -> Iterator[tuple]:
        for item in export_items(export_file, linker, max_text_chars):
            yield item.to_row()

    rows = spark.sparkContext.parallelize(files, max(len(files), 1)).flatMap(read)
    items = spark.createDataFrame(rows, spark_schema(), verifySchema=False)
    if exports is None:
        exports = describe_exports(spark, manifest)
    return items, exports.select(*SOURCE_COLUMNS)


def rejects_frame(items: Any) -> Any:
    """The rejected rows of an items frame, in file and row order, as the rejects file has them."""
    from pyspark.sql import functions as F

    return (items.where(F.col("item_class") == REJECT_CLASS)
            .select(F.col("source_path").alias("file"),
                    F.col("record_system").alias("system"),
                    F.regexp_extract("source_locator", r"(\d+)$", 1).cast("long").alias("row"),
                    F.col("source_locator").alias("locator"),
                    F.expr(f"substring(exception_reason, {len(REJECT_PREFIX) + 1})")
                    .alias("reason"),
                    F.col("exception_message").alias("message"),
                    F.col("record_id"), F.col("body").alias("content"), F.col("id"))
            .orderBy("file", "row", "id"))


def write_rejects(items: Any, case_dir: str | os.PathLike[str]) -> int:
    """Write `<case_dir>/rejects.jsonl`, one JSON object per rejected row; return the count.

    Streams the rejects partition by partition (never the records) and replaces the file
    atomically, so a re-run leaves exactly that run's rejects.
    """
    directory = Path(case_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target, partial = directory / REJECTS_FILE, directory / (REJECTS_FILE + ".partial")
    count = 0
    with open(partial, "w", encoding="utf-8") as handle:
        for row in rejects_frame(items).toLocalIterator():
            handle.write(json.dumps(row.asDict(), ensure_ascii=False) + "\n")
            count += 1
    partial.replace(target)
    return count


def read_rejects(case_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    path = Path(case_dir) / REJECTS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
