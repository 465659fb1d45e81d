"""Chain of custody and reconciliation, per evidence file.

At ingest each source file's size, MD5 and SHA-256 are recorded with the count of records found
in it per type (exceptions included). `reconcile` compares those counts with what Elasticsearch
holds for the same file, so any record lost between reading and indexing is reported loudly.

A case-management export also records its `system` and the `rows_read` counted when it was
described, with the `records` and `rejects` (rejected rows) staged from it; every row must be
one or the other, so `rows_read == records + rejects` is checked as well.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from pipeline.cms.normalise import REJECT_CLASS
from pipeline.errors import CaseNotFoundError
from pipeline.index.indices import resolve_case

SOURCES_FILE = "sources.json"


def source_counts(sources: Any, staged: Any, exports: Any = None) -> Iterator[dict[str, Any]]:
    """One row per evidence file: its custody hashes and its records found, by type.

    `exports` (pipeline.cms.transform.describe_exports' frame) adds each export's system, rows
    read, records and rejects. The rows are yielded as they arrive, a partition at a time: a case
    of a few million loose EML files has as many rows, which the driver must never hold at once.
    """
    from pyspark.sql import functions as F

    counts = (staged.groupBy("source_path", "type").count()
              .groupBy("source_path")
              .agg(F.map_from_entries(F.collect_list(F.struct("type", "count"))).alias("found")))
    joined = sources.join(counts, sources.path == counts.source_path, "left")
    tallies = _export_tallies(exports, staged) if exports is not None else {}
    for row in joined.orderBy("custodian", "path").toLocalIterator():
        found = dict(sorted((row.found or {}).items()))
        counted = {"path": row.path, "custodian": row.custodian, "format": row.format,
                   "size": row.size, "md5": row.md5, "sha256": row.sha256,
                   "error": row.error, "found": found}
        if row.path in tallies:
            system, rows_read, rejects = tallies[row.path]
            counted.update(system=system, rows_read=rows_read,
                           records=found.get("record", 0), rejects=rejects)
        yield counted


def _export_tallies(exports: Any, staged: Any) -> dict[str, tuple[str, int, int]]:
    """(system, rows read, rejected rows) of each case-management export, by path: one row per
    export file, which a case has few of."""
    rejects = {row.source_path: row["count"] for row in
               staged.where(staged.item_class == REJECT_CLASS).groupBy("source_path").count()
               .toLocalIterator()}
    return {row.path: (row.system, row.rows_read, rejects.get(row.path, 0))
            for row in exports.select("path", "system", "rows_read").toLocalIterator()}


def export_gaps(rows: list[dict[str, Any]]) -> list[str]:
    """Every export whose rows read are not all accounted for as records or rejects."""
    return [f"{row['path']}: read {row['rows_read']} row(s) but found {row['records']} "
            f"record(s) and {row['rejects']} reject(s)"
            for row in rows if "rows_read" in row
            and row["rows_read"] != row["records"] + row["rejects"]]


def write_sources(case_dir: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """The rows as one JSON list (as `json.dumps(list(rows), indent=1)` writes it), written as
    they come and renamed into place once complete."""
    path = case_dir / SOURCES_FILE
    case_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    written = 0
    try:
        with partial.open("w", encoding="utf-8") as out:
            out.write("[")
            for row in rows:
                out.write(",\n " if written else "\n ")
                out.write(json.dumps(row, indent=1, ensure_ascii=False).replace("\n", "\n "))
                written += 1
            out.write("\n]\n" if written else "]\n")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return path


def read_sources(case_dir: Path, case: str) -> list[dict[str, Any]]:
    path = case_dir / SOURCES_FILE
    if not path.exists():
        raise CaseNotFoundError(f"no ingest record for case '{case}' at {path}: run "
                                f"`trawl run` on its manifest first (or check paths.cases_dir)")
    return json.loads(path.read_text(encoding="utf-8"))


def _indexed_counts(client: Any, alias: str) -> Iterator[tuple[str, str, int]]:
    """(source_path, type, count) for everything indexed, paged so any number of files fits."""
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": 1000, "sources": [
            {"path": {"terms": {"field": "source_path"}}},
            {"type": {"terms": {"field": "type"}}}]}
        if after:
            composite["after"] = after
        response = client.search(index=alias, size=0, aggs={"by": {"composite": composite}})
        by = response["aggregations"]["by"]
        for bucket in by["buckets"]:
            yield bucket["key"]["path"], bucket["key"]["type"], bucket["doc_count"]
        after = by.get("after_key")
        if not by["buckets"] or not after:
            return


def reconcile(client: Any, es: Any, case: str, case_dir: Path) -> dict[str, Any]:
    alias = resolve_case(client, es, case)
    rows = read_sources(case_dir, case)
    indexed: dict[str, dict[str, int]] = {}
    for path, item_type, count in _indexed_counts(client, alias):
        indexed.setdefault(path, {})[item_type] = count
    gaps = export_gaps(rows)
    totals = {"files": len(rows), "found": 0, "indexed": 0}
    for row in rows:
        row["indexed"] = dict(sorted(indexed.pop(row["path"], {}).items()))
        row["missing"] = {kind: n - row["indexed"].get(kind, 0)
                          for kind, n in row["found"].items() if n != row["indexed"].get(kind, 0)}
        totals["found"] += sum(row["found"].values())
        totals["indexed"] += sum(row["indexed"].values())
        if row["missing"]:
            gaps.append(f"{row['path']}: found {row['found']} but indexed {row['indexed']}")
    for path, counts in indexed.items():
        gaps.append(f"{path}: indexed {counts} but not among this run's sources")
    return {"case": case, "sources": rows, "totals": totals, "reconciled": not gaps,
            "gaps": gaps}
