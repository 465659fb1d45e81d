"""Bulk writing: `_bulk` bodies built by Spark in the JVM, sent from each Spark task.

Each item's index action and document are made into two JSON lines by Spark's own JSON writer
(`bulk_lines`), so the Python worker never turns a row into objects: it slices request bodies
straight out of the Arrow buffers and sends them. Responses are filtered down to each item's
status and error. A document ES rejects is written to the case's dead-letter folder and counted,
never dropped in silence; HTTP 429 is retried with backoff.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from pipeline.arrow_strings import string_offsets
from pipeline.config import BulkConfig, ElasticsearchConfig
from pipeline.index.client import make_client

# Each item's status and only the failures' errors: a full `_bulk` response costs ES and the
# worker as much to make and read as a small document.
RESPONSE_FILTER = "errors,items.*.status,items.*.error"
MAX_BACKOFF_SECONDS = 600
TOO_MANY_REQUESTS = 429


@dataclass(frozen=True)
class BulkOutcome:
    indexed: int
    failed: int


@dataclass(frozen=True)
class Chunk:
    """One `_bulk` body: document k's two lines are body[ends[k-1]:ends[k]] (from 0 for k=0)."""
    body: bytes
    ends: tuple[int, ...]

    def lines(self, position: int) -> bytes:
        start = self.ends[position - 1] if position else 0
        return self.body[start:self.ends[position]]


def iso_timestamp(column: Any) -> Any:
    """A UTC timestamp as Python's isoformat() writes it: microseconds only when there are any."""
    from pyspark.sql import functions as F

    whole_seconds = F.date_format(column, "yyyy-MM-dd'T'HH:mm:ssxxx")
    return (F.when(F.unix_micros(column) % 1_000_000 == 0, whole_seconds)
            .otherwise(F.date_format(column, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx")))


def bulk_lines(items: Any, fields: Iterable[str]) -> Any:
    """items -> one `line` column: the `_bulk` index action and the document of each item, as
    two newline-terminated JSON lines. The document holds `fields`, without nulls or empty
    arrays, and dates as ISO strings in UTC."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    columns = []
    for field in items.select(*fields).schema.fields:
        column = F.col(field.name)
        if isinstance(field.dataType, T.ArrayType):
            column = F.when(F.size(column) > 0, column)
        elif isinstance(field.dataType, T.TimestampType):
            column = iso_timestamp(column)
        columns.append(column.alias(field.name))
    action = F.to_json(F.struct(F.struct(F.col("id").alias("_id")).alias("index")))
    return items.select(F.concat(action, F.lit("\n"), F.to_json(F.struct(*columns)), F.lit("\n"))
                        .alias("line"))


def _line_buffers(batches: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
    """(data, offsets) of each Arrow batch's one string column: line k is
    data[offsets[k]:offsets[k+1]], read from the Arrow buffers without a Python string per row."""
    for batch in batches:
        lines = batch.column(0)
        if len(lines) == 0:
            continue
        yield lines.buffers()[2], string_offsets(lines)


def chunks(batches: Iterable[Any], max_documents: int, max_bytes: int) -> Iterator[Chunk]:
    """The lines of `batches` as `_bulk` bodies of at most `max_documents` documents and
    `max_bytes` bytes each, in order; a document larger than `max_bytes` goes alone."""
    import numpy as np

    parts: list[bytes] = []
    ends: list[int] = []
    size = 0

    def flush() -> Chunk:
        nonlocal parts, ends, size
        chunk = Chunk(b"".join(parts), tuple(ends))
        parts, ends, size = [], [], 0
        return chunk

    for data, offsets in _line_buffers(batches):
        position, rows = 0, len(offsets) - 1
        while position < rows:
            # The most rows from `position` on that still fit in the body's byte budget.
            fit = int(np.searchsorted(offsets, offsets[position] + max_bytes - size,
                                      side="right")) - 1 - position
            take = min(max_documents - len(ends), rows - position, fit)
            if take <= 0:
                if ends:
                    yield flush()
                    continue
                take = 1
            start, stop = int(offsets[position]), int(offsets[position + take])
            parts.append(data[start:stop].to_pybytes())
            ends.extend((offsets[position + 1:position + take + 1] - start + size).tolist())
            size += stop - start
            position += take
            if len(ends) >= max_documents or size >= max_bytes:
                yield flush()
    if ends:
        yield flush()


def _failure(chunk: Chunk, position: int, index: str, status: int | None, error: Any) -> dict:
    """A dead letter: what ES said, and the action and document as they were sent."""
    action, document = chunk.lines(position).decode("utf-8").split("\n", 1)
    return {"index": {"_index": index, "_id": json.loads(action)["index"]["_id"],
                      "status": status, "error": error},
            "document": json.loads(document)}


def _back_off(bulk: BulkConfig, attempt: int) -> None:
    time.sleep(min(bulk.initial_backoff * 2 ** attempt, MAX_BACKOFF_SECONDS))


def send_chunk(client: Any, index: str, chunk: Chunk, bulk: BulkConfig) -> tuple[int, list[dict]]:
    """(indexed, dead letters) for one body. Documents ES answers with 429, or the whole request
    when ES answers it with 429, are sent again after a doubling backoff, up to
    `bulk.max_retries` times; any other refusal or an error reaching the node is a dead letter
    per document, never an exception."""
    from elasticsearch import ApiError, TransportError

    indexed, failures = 0, []
    waiting = list(range(len(chunk.ends)))
    for attempt in range(bulk.max_retries + 1):
        last_try = attempt == bulk.max_retries
        body = chunk.body if len(waiting) == len(chunk.ends) else \
            b"".join(chunk.lines(position) for position in waiting)
        try:
            response = client.bulk(index=index, operations=body, filter_path=RESPONSE_FILTER)
        except ApiError as exc:
            if exc.meta.status == TOO_MANY_REQUESTS and not last_try:
                _back_off(bulk, attempt)
                continue
            refusal = (exc.meta.status, str(exc))
        except TransportError as exc:
            refusal = (None, f"{type(exc).__name__}: {exc}")
        else:
            refusal = None
        if refusal is not None:
            return indexed, failures + [_failure(chunk, position, index, *refusal)
                                        for position in waiting]
        if not response.get("errors"):
            return indexed + len(waiting), failures
        again = []
        for position, item in zip(waiting, response["items"]):
            result = next(iter(item.values()))
            status = result.get("status", 500)
            if 200 <= status < 300:
                indexed += 1
            elif status == TOO_MANY_REQUESTS and not last_try:
                again.append(position)
            else:
                failures.append(_failure(chunk, position, index, status, result.get("error")))
        if not again:
            break
        waiting = again
        _back_off(bulk, attempt)
    return indexed, failures


def write_partition(batches: Iterable[Any], es: ElasticsearchConfig, index: str,
                    dead_letter_path: str) -> BulkOutcome:
    """Index the `line` batches of one partition; rejects go to `dead_letter_path`.

    Bodies go out on `bulk.senders` threads, so one is cut while another waits for
    Elasticsearch: with a single request in flight, the node and the worker took turns at the
    same cores. At most senders + 1 bodies are held."""
    from concurrent.futures import Future, ThreadPoolExecutor

    client = make_client(es)
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
            dead_letters.write(json.dumps(info, ensure_ascii=False, default=str) + "\n")

    try:
        with ThreadPoolExecutor(max_workers=max(es.bulk.senders, 1)) as senders:
            for chunk in chunks(batches, es.bulk.chunk_size, es.bulk.max_chunk_bytes):
                pending.append(senders.submit(send_chunk, client, index, chunk, es.bulk))
                while len(pending) > es.bulk.senders:
                    settle(pending.popleft())
            while pending:
                settle(pending.popleft())
    finally:
        if dead_letters is not None:
            dead_letters.close()
        client.close()
    return BulkOutcome(indexed=indexed, failed=failed)


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


def index_items(items: Any, fields: Iterable[str], es: ElasticsearchConfig, index: str,
                dead_letter_dir: str) -> BulkOutcome:
    """Index `fields` of every item from the Spark tasks that hold them; nothing is collected
    but one (indexed, failed) row per task."""
    from pyspark.sql import functions as F

    def write(batches: Iterable[Any]) -> Iterator[Any]:
        outcome = write_partition(batches, es, index,
                                  f"{dead_letter_dir}/part-{task_partition():05d}.jsonl")
        yield counts_batch(indexed=outcome.indexed, failed=outcome.failed)

    totals = (bulk_lines(items, fields).mapInArrow(write, "indexed long, failed long")
              .agg(F.sum("indexed").alias("indexed"), F.sum("failed").alias("failed")).first())
    return BulkOutcome(indexed=int(totals["indexed"] or 0), failed=int(totals["failed"] or 0))
