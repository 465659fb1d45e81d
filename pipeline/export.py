"""Export every hit of a search to CSV or JSON Lines.

A point in time (PIT) freezes the index for the whole export and `search_after` walks it page
by page, so there is no 10,000-hit window and no hit is seen twice or missed while the index
changes underneath. Rows are streamed to a temporary file beside the target, which replaces
the target only when the export is complete: a failed export never looks like a finished one.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TextIO

from pipeline.config import ElasticsearchConfig
from pipeline.errors import ExportError, QuerySyntaxError
from pipeline.index.indices import resolve_case
from pipeline.search import SearchRequest, build_query, explain_query_error

FORMATS = ("csv", "jsonl")
EXPORT_FIELDS = ("id", "type", "custodian", "custodians", "date", "from", "to", "cc", "bcc",
                 "subject", "file_name", "message_id", "thread_id", "family_id", "parent_id",
                 "is_duplicate", "source_path", "source_locator")
# Oldest first, then by id: a stable order a reviewer can resume from. The id makes each
# sort key unique, which search_after needs; the PIT adds its own tiebreaker as well.
EXPORT_SORT = ({"date": {"order": "asc", "missing": "_last"}}, {"id": "asc"})
LIST_SEPARATOR = "; "
DEFAULT_PAGE_SIZE = 1000
KEEP_ALIVE = "2m"

Progress = Callable[[int, int], None]  # (hits written so far, total hits)


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    format: str
    exported: int
    total: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "exported": self.exported,
                "total": self.total, "seconds": self.seconds}


def export_hits(client: Any, es: ElasticsearchConfig, request: SearchRequest,
                path: str | os.PathLike[str], fmt: str = "csv", *,
                page_size: int = DEFAULT_PAGE_SIZE, fields: Sequence[str] = EXPORT_FIELDS,
                progress: Progress | None = None) -> ExportSummary:
    """Write every hit of `request` (its `limit` is ignored) to `path` as csv or jsonl."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    started = time.monotonic()
    alias = resolve_case(client, es, request.case)
    query = build_query(request)
    try:
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            write_row = _row_writer(handle, fmt, fields)
            exported, total = 0, 0
            for total, page in _pages(client, alias, query, page_size, fields, request.query):
                for source in page:
                    write_row(source)
                exported += len(page)
                if progress:
                    progress(exported, total)
        os.replace(partial, target)
    except OSError as exc:
        raise ExportError(f"cannot write the export to {target}: {exc}") from exc
    finally:
        if partial.exists():
            partial.unlink()
    return ExportSummary(target, fmt, exported, total, round(time.monotonic() - started, 3))


def _pages(client: Any, alias: str, query: dict[str, Any], page_size: int,
           fields: Sequence[str], query_text: str) -> Iterator[tuple[int, list[dict]]]:
    """(total hits, the page's _source dicts) for each page, inside one point in time."""
    from elasticsearch import BadRequestError

    pit_id = client.open_point_in_time(index=alias, keep_alive=KEEP_ALIVE)["id"]
    try:
        search_after: list[Any] | None = None
        total: int | None = None
        while True:
            try:
                response = client.search(
                    pit={"id": pit_id, "keep_alive": KEEP_ALIVE}, query=query, size=page_size,
                    sort=list(EXPORT_SORT), search_after=search_after,
                    source_includes=list(fields), track_total_hits=total is None)
            except BadRequestError as exc:
                raise QuerySyntaxError(explain_query_error(query_text, exc.body)) from exc
            pit_id = response.get("pit_id", pit_id)  # ES may hand back a new id each page
            hits = response["hits"]["hits"]
            if total is None:
                total = response["hits"]["total"]["value"]
            if not hits:
                return
            yield total, [hit["_source"] for hit in hits]
            search_after = hits[-1]["sort"]
    finally:
        client.close_point_in_time(id=pit_id)


def _row_writer(handle: TextIO, fmt: str, fields: Sequence[str]) -> Callable[[dict], None]:
    if fmt == "jsonl":
        def write_json(source: dict[str, Any]) -> None:
            row = {name: source.get(name) for name in fields}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return write_json
    writer = csv.writer(handle)
    writer.writerow(fields)

    def write_csv(source: dict[str, Any]) -> None:
        writer.writerow([csv_cell(source.get(name)) for name in fields])
    return write_csv


def csv_cell(value: Any) -> str:
    """Lists joined with '; ', booleans as true/false, missing values empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return LIST_SEPARATOR.join(csv_cell(item) for item in value)
    return str(value)
