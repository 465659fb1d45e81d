"""Bulk writing, one client per Spark partition.

`streaming_bulk` with explicit chunk sizes and retries (it backs off on HTTP 429). A document ES
rejects is written to the case's dead-letter folder and counted, never dropped in silence.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Iterator

from pipeline.config import ElasticsearchConfig
from pipeline.index.client import make_client


@dataclass(frozen=True)
class BulkOutcome:
    indexed: int
    failed: int


def to_document(row: dict[str, Any]) -> dict[str, Any]:
    """An ES document from a staging row: dates as ISO strings, empty values left out."""
    document: dict[str, Any] = {}
    for name, value in row.items():
        if value is None or value == []:
            continue
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        document[name] = value
    return document


def _actions(rows: Iterable[dict[str, Any]], index: str) -> Iterator[dict[str, Any]]:
    for row in rows:
        document = to_document(row)
        yield {"_op_type": "index", "_index": index, "_id": document["id"], "_source": document}


def write_arrow_batches(batches: Iterable[Any], es: ElasticsearchConfig, index: str,
                        dead_letter_dir: str) -> Iterator[Any]:
    """mapInArrow body: index one partition's Arrow batches, yield one (indexed, failed) row.

    Arrow batches become dicts in C++, with timestamps in UTC whatever the worker's own zone,
    and their strings are valid Unicode, which lets the bulk client serialise with orjson."""
    import pyarrow as pa
    from pyspark import TaskContext

    def rows() -> Iterator[dict[str, Any]]:
        for batch in batches:
            yield from batch.to_pylist()

    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    outcome = write_partition(rows(), es, index, f"{dead_letter_dir}/part-{partition:05d}.jsonl")
    yield pa.RecordBatch.from_pydict({"indexed": [outcome.indexed], "failed": [outcome.failed]},
                                     schema=pa.schema([("indexed", pa.int64()),
                                                       ("failed", pa.int64())]))


def write_partition(rows: Iterable[dict[str, Any]], es: ElasticsearchConfig, index: str,
                    dead_letter_path: str) -> BulkOutcome:
    """Index `rows` (valid Unicode, as out of Spark) with streaming_bulk; rejects go to
    `dead_letter_path`."""
    from elasticsearch.helpers import streaming_bulk

    client = make_client(es, fast_json=True)
    indexed = failed = 0
    dead_letters = None
    try:
        for ok, info in streaming_bulk(
                client, _actions(rows, index), chunk_size=es.bulk.chunk_size,
                max_chunk_bytes=es.bulk.max_chunk_bytes, max_retries=es.bulk.max_retries,
                initial_backoff=es.bulk.initial_backoff, raise_on_error=False,
                raise_on_exception=False):
            if ok:
                indexed += 1
                continue
            failed += 1
            if dead_letters is None:
                os.makedirs(os.path.dirname(dead_letter_path), exist_ok=True)
                dead_letters = open(dead_letter_path, "a", encoding="utf-8")
            dead_letters.write(json.dumps(info, default=str) + "\n")
    finally:
        if dead_letters is not None:
            dead_letters.close()
        client.close()
    return BulkOutcome(indexed=indexed, failed=failed)
