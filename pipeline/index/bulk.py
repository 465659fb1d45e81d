"""Bulk writing, one client per Spark partition.

`streaming_bulk` with explicit chunk sizes and retries (it backs off on HTTP 429). A document ES
rejects is written to the case's dead-letter folder and counted, never dropped in silence.
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Iterator

from pipeline.config import BulkConfig, ElasticsearchConfig
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


def arrow_rows(batches: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """A mapInArrow body's rows as dicts, made in C++: timestamps in UTC whatever the worker's
    own zone, and strings valid Unicode."""
    for batch in batches:
        yield from batch.to_pylist()


def task_partition() -> int:
    """The running Spark task's partition number (0 outside a task)."""
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.partitionId() if context is not None else 0


def counts_batch(**counts: int) -> Any:
    """A one-row Arrow batch of long counts, a mapInArrow body's answer to the driver."""
    import pyarrow as pa

    return pa.RecordBatch.from_pydict({name: [value] for name, value in counts.items()},
                                      schema=pa.schema([(name, pa.int64()) for name in counts]))


def write_arrow_batches(batches: Iterable[Any], es: ElasticsearchConfig, index: str,
                        dead_letter_dir: str) -> Iterator[Any]:
    """mapInArrow body: index one partition's Arrow batches, yield one (indexed, failed) row.
    Rows out of Arrow hold no lone surrogates, which lets the bulk client use orjson."""
    outcome = write_partition(arrow_rows(batches), es, index,
                              f"{dead_letter_dir}/part-{task_partition():05d}.jsonl")
    yield counts_batch(indexed=outcome.indexed, failed=outcome.failed)


def _chunks(actions: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for action in actions:
        chunk.append(action)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _send_chunk(client: Any, actions: list[dict[str, Any]],
                bulk: BulkConfig) -> tuple[int, list[Any]]:
    """(indexed, failure infos) for one chunk, with streaming_bulk's retries and backoff on
    HTTP 429; an error reaching the node becomes a failure per document, never an exception."""
    from elasticsearch.helpers import streaming_bulk

    indexed, failures = 0, []
    for ok, info in streaming_bulk(
            client, actions, chunk_size=max(len(actions), 1),
            max_chunk_bytes=bulk.max_chunk_bytes, max_retries=bulk.max_retries,
            initial_backoff=bulk.initial_backoff, raise_on_error=False,
            raise_on_exception=False):
        if ok:
            indexed += 1
        else:
            failures.append(info)
    return indexed, failures


def write_partition(rows: Iterable[dict[str, Any]], es: ElasticsearchConfig, index: str,
                    dead_letter_path: str) -> BulkOutcome:
    """Index `rows` (valid Unicode, as out of Spark); rejects go to `dead_letter_path`.

    Chunks of `bulk.chunk_size` documents go out on `bulk.senders` threads, so one chunk is
    serialised while another waits for Elasticsearch: with a single request in flight, the
    node and the worker took turns at the same cores. At most senders + 1 chunks are held."""
    from concurrent.futures import Future, ThreadPoolExecutor

    client = make_client(es, fast_json=True)
    indexed = failed = 0
    dead_letters = None
    pending: deque[Future] = deque()

    def settle(future: Future) -> None:
        nonlocal indexed, failed, dead_letters
        done, failures = future.result()
        indexed += done
        failed += len(failures)
        if failures and dead_letters is None:
            os.makedirs(os.path.dirname(dead_letter_path), exist_ok=True)
            dead_letters = open(dead_letter_path, "a", encoding="utf-8")
        for info in failures:
            dead_letters.write(json.dumps(info, default=str) + "\n")

    try:
        with ThreadPoolExecutor(max_workers=max(es.bulk.senders, 1)) as senders:
            for chunk in _chunks(_actions(rows, index), es.bulk.chunk_size):
                pending.append(senders.submit(_send_chunk, client, chunk, es.bulk))
                while len(pending) > es.bulk.senders:
                    settle(pending.popleft())
            while pending:
                settle(pending.popleft())
    finally:
        if dead_letters is not None:
            dead_letters.close()
        client.close()
    return BulkOutcome(indexed=indexed, failed=failed)
