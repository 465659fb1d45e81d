"""The three baselines the benchmark sets Trawl against.

- `naive_ingest`: what a competent person writes in one process with the standard library and
  elasticsearch-py's defaults: parse every message, `helpers.bulk` into a dynamic-mapped index.
- `readpst_extract`: Debian's pst-utils `readpst` writing every item of every PST as a file,
  i.e. the usual first step of a PST review, before anything is parsed or indexed.
- `ceiling_bulk`: the fastest this Elasticsearch node takes Trawl's own documents: `_bulk`
  bodies built beforehand (outside the timing) and sent as they are from a few threads, into the
  real mapping with refreshes and replicas off. No ingest can beat it on this machine.

Each returns a `BaselineResult`; a failure on one input is counted in `extra`, never raised.
"""

from __future__ import annotations

import concurrent.futures
import email
import email.policy
import email.utils
import mailbox
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

from pipeline.config import ElasticsearchConfig
from pipeline.index.bulk import bulk_lines, chunks, counts_batch, task_partition
from pipeline.schema import es_field_names

MIB = 1024 * 1024
READPST = "/usr/bin/readpst"
# Chosen by hand on the 2-core bench machine: see the table in `ceiling_bulk`'s docstring.
DEFAULT_CHUNK_BYTES = 16 * MIB
CEILING_SAMPLE_SEED = 7
DEFAULT_CEILING_WORKERS = 3


@dataclass(frozen=True)
class BaselineResult:
    name: str
    items: int
    bytes: int
    seconds: float
    items_per_s: float
    mb_per_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def _result(name: str, items: int, size: int, seconds: float, **extra: Any) -> BaselineResult:
    rate = seconds if seconds > 0 else float("inf")
    return BaselineResult(name=name, items=items, bytes=size, seconds=round(seconds, 3),
                          items_per_s=round(items / rate, 1), mb_per_s=round(size / MIB / rate, 2),
                          extra=extra)


# ---------------------------------------------------------------------------------------------
# naive: one process, standard library, helpers.bulk with its defaults


def _mail_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in (".mbox", ".eml"))
        else:
            files.append(path)
    return files


def _raw_messages(path: Path) -> Iterator[bytes]:
    if path.suffix.lower() == ".eml":
        yield path.read_bytes()
        return
    box = mailbox.mbox(str(path), create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


def _iso_date(value: Any) -> str | None:
    try:
        return email.utils.parsedate_to_datetime(str(value)).isoformat() if value else None
    except (TypeError, ValueError, IndexError):
        return None


def _naive_document(message: email.message.EmailMessage, errors: dict[str, int]) -> dict[str, Any]:
    def header(name: str) -> str | None:
        value = message[name]
        return None if value is None else str(value)

    try:
        body = message.get_body(preferencelist=("plain", "html")).get_content()
    except Exception:  # no body part, unknown charset, broken transfer encoding...
        errors["body"] += 1
        body = ""
    date = _iso_date(message["date"])
    if date is None and message["date"] is not None:
        errors["date"] += 1
    return {"message_id": header("message-id"), "from": header("from"), "to": header("to"),
            "cc": header("cc"), "subject": header("subject"), "date": date, "body": body,
            "attachments": [part.get_filename() for part in message.iter_attachments()]}


def naive_ingest(paths: list[Path], es_url_or_client: Any, index: str,
                 limit: int | None = None) -> BaselineResult:
    """Parse .mbox and .eml files message by message and `helpers.bulk` them with its defaults.

    `bytes` counts whole files; when `limit` stops inside a file, only the messages read from it.
    The time runs from creating the (default, dynamic-mapped) index to the final refresh.
    """
    from elasticsearch import Elasticsearch
    from elasticsearch.helpers import bulk

    client = Elasticsearch(es_url_or_client) if isinstance(es_url_or_client, str) else es_url_or_client
    client.indices.delete(index=index, ignore_unavailable=True)
    counts = {"messages": 0, "bytes": 0}
    errors = {"message": 0, "body": 0, "date": 0}

    def actions() -> Iterator[dict[str, Any]]:
        for path in _mail_files(paths):
            if limit is not None and counts["messages"] >= limit:
                return
            consumed = 0
            for raw in _raw_messages(path):
                if limit is not None and counts["messages"] >= limit:
                    counts["bytes"] += consumed
                    return
                counts["messages"] += 1
                consumed += len(raw)
                try:
                    message = email.message_from_bytes(raw, policy=email.policy.default)
                    document = _naive_document(message, errors)
                except Exception:  # a header the parser chokes on: count it, go on
                    errors["message"] += 1
                    continue
                yield {"_index": index, "_source": document}
            counts["bytes"] += path.stat().st_size

    start = time.perf_counter()
    client.indices.create(index=index)
    indexed, failed = bulk(client, actions(), stats_only=True, raise_on_error=False)
    client.indices.refresh(index=index)
    seconds = time.perf_counter() - start
    return _result("naive", counts["messages"], counts["bytes"], seconds, indexed=indexed,
                   failed=failed, errors=errors, limit=limit)


def naive_ingest_apart(paths: list[Path], es: ElasticsearchConfig, index: str,
                       limit: int | None = None) -> BaselineResult:
    """`naive_ingest` in a fresh process of its own (`run_apart`): parsing 50,000 messages
    leaves a Python heap larger than it found it."""
    from pipeline.bench.measure import run_apart

    return run_apart(_naive_ingest_from_config, list(paths), es, index, limit)


def _naive_ingest_from_config(paths: list[Path], es: ElasticsearchConfig, index: str,
                              limit: int | None) -> BaselineResult:
    import os

    from pipeline.index.client import make_client

    result = naive_ingest(paths, make_client(es), index, limit)
    return replace(result, extra={**result.extra, "process": os.getpid()})


# ---------------------------------------------------------------------------------------------
# readpst: every item of every PST written out as a file


@dataclass(frozen=True)
class _Extraction:
    files: int
    done: int
    skipped: int
    exit_codes: dict[str, int]


def _readpst_one(pst: Path, out_dir: Path) -> tuple[int, int, int, int]:
    """(exit code, files written, items readpst says it did, items it says it skipped)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # -e: one .eml (or .vcf/.ics) file per item, attachments inside it; -D: deleted items too;
    # -b: no RTF body attachments (Trawl reads the RTF body as the body, not as a file).
    done = subprocess.run([READPST, "-D", "-b", "-e", "-o", str(out_dir), str(pst)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          encoding="utf-8", errors="replace", check=False)
    said = re.findall(r"(\d+) items done, (\d+) items skipped", done.stdout)
    files = sum(1 for path in out_dir.rglob("*") if path.is_file())
    return (done.returncode, files, sum(int(d) for d, _ in said), sum(int(s) for _, s in said))


def _extract_all(pst_paths: list[Path], out_root: Path, workers: int) -> tuple[float, _Extraction]:
    targets = [out_root / f"{number:04d}-{pst.stem}" for number, pst in enumerate(pst_paths)]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(_readpst_one, pst_paths, targets))
    seconds = time.perf_counter() - start
    shutil.rmtree(out_root, ignore_errors=True)  # a large PST set would otherwise fill the disk
    return seconds, _Extraction(
        files=sum(o[1] for o in outcomes), done=sum(o[2] for o in outcomes),
        skipped=sum(o[3] for o in outcomes),
        exit_codes={str(pst): o[0] for pst, o in zip(pst_paths, outcomes) if o[0] != 0})


def readpst_extract(pst_paths: list[Path], work_dir: Path, workers: int = 2) -> BaselineResult:
    """Every item of every PST written out with `readpst -D -b -e`, once one PST at a time and
    once `workers` at a time; the result's rates are the parallel run's, the sequential in extra.
    """
    if not Path(READPST).exists():
        return _result("readpst", 0, 0, 0.0, skipped="readpst not installed")
    pst_paths = [Path(path) for path in pst_paths]
    size = sum(path.stat().st_size for path in pst_paths)
    sequential_seconds, sequential = _extract_all(pst_paths, Path(work_dir) / "readpst-sequential", 1)
    seconds, parallel = _extract_all(pst_paths, Path(work_dir) / "readpst-parallel", workers)
    return _result("readpst", parallel.files, size, seconds, workers=workers, mode="-D -b -e",
                   readpst_items_done=parallel.done, readpst_items_skipped=parallel.skipped,
                   failed_exit_codes=parallel.exit_codes,
                   sequential={"items": sequential.files, "seconds": round(sequential_seconds, 3),
                               "items_per_s": round(sequential.files / sequential_seconds, 1)
                               if sequential_seconds else 0.0,
                               "readpst_items_skipped": sequential.skipped,
                               "failed_exit_codes": sequential.exit_codes})


# ---------------------------------------------------------------------------------------------
# ceiling: prebuilt _bulk bodies, sent as they are


def build_bulk_files(spark: Any, parquet_dir: Path, out_dir: Path, limit: int | None = None,
                     chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> list[Path]:
    """Trawl's staged items as prebuilt `_bulk` bodies of about `chunk_bytes` in `out_dir`, the
    very lines the index stage sends (`pipeline.index.bulk.bulk_lines`). `limit` takes a seeded
    sample of about that many.

    The Spark workers write the files, each task its own: collecting the documents to the
    driver, a partition at a time, ran out of heap at a million documents.
    """
    frame = spark.read.parquet(str(parquet_dir))
    if limit is not None:
        total = frame.count()
        if total > limit:
            frame = frame.sample(fraction=limit / total, seed=CEILING_SAMPLE_SEED)
    target = Path(out_dir)

    def write(batches: Iterator[Any]) -> Iterator[Any]:
        prefix = f"part{task_partition():05d}-"
        written = 0
        for written, chunk in enumerate(chunks(batches, sys.maxsize, chunk_bytes), start=1):
            (target / f"{prefix}{written - 1:06d}.ndjson").write_bytes(chunk.body)
        yield counts_batch(files=written)

    target.mkdir(parents=True, exist_ok=True)
    bulk_lines(frame, es_field_names()).mapInArrow(write, "files long").collect()
    return sorted(target.glob("*.ndjson"))


def _send_bulk_file(client: Any, index: str, path: Path) -> tuple[int, int, int, list[Any]]:
    """(documents, failed, bytes, first errors) for one prebuilt `_bulk` body."""
    raw = path.read_bytes()
    response = client.bulk(index=index, operations=raw, filter_path="errors,items.*.error")
    # filter_path leaves in `items` only the entries that carry an error.
    failures = [next(iter(item.values()))["error"] for item in response.get("items", [])]
    return raw.count(b"\n") // 2, len(failures), len(raw), failures[:3]


def ceiling_bulk(docs_ndjson_dir: Path, es: Any, index: str, mapping: dict[str, Any], *,
                 workers: int = DEFAULT_CEILING_WORKERS) -> BaselineResult:
    """Send every prebuilt `_bulk` body in `docs_ndjson_dir` from `workers` threads.

    Timed: creating the index (`mapping`, 1 shard, no replica, refresh off), every body, then
    refresh back on and one refresh. Items are documents ES accepted; bytes are NDJSON sent.

    Tuned by hand on the 2-core machine (ES 9.2 integ-test-zip node, 1 GB heap) with the demo
    case's 6,539 documents repeated to 60,000 (≈ 300 MB of NDJSON, ≈ 5 KB a document). Median
    docs/s over 3 to 6 runs; the machine was shared with other work, so single runs spread by
    ±40 %. One worker leaves one of ES's two write threads idle; a third keeps both busy while
    a response travels back. Hence 3 workers and 16 MiB bodies (48 MiB in flight, well inside
    ES's indexing-pressure limit of 10 % of the heap):

        chunk     1 worker   2 workers   3 workers
        4 MiB     2,075      2,071       3,003
        8 MiB     2,203      3,039       2,822
        16 MiB    2,173      2,429       3,478
    """
    client = es
    files = sorted(Path(docs_ndjson_dir).glob("*.ndjson"))
    settings = {**mapping.get("settings", {}), "number_of_shards": 1, "number_of_replicas": 0,
                "refresh_interval": "-1"}
    client.indices.delete(index=index, ignore_unavailable=True)
    start = time.perf_counter()
    client.indices.create(index=index, settings=settings, mappings=mapping["mappings"])
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        sent = list(pool.map(lambda path: _send_bulk_file(client, index, path), files))
    client.indices.put_settings(index=index, settings={"index": {"refresh_interval": None}})
    client.indices.refresh(index=index)
    seconds = time.perf_counter() - start
    documents, failed = sum(s[0] for s in sent), sum(s[1] for s in sent)
    return _result("ceiling", documents - failed, sum(s[2] for s in sent), seconds,
                   documents_sent=documents, failed=failed, workers=workers, files=len(files),
                   first_errors=[error for s in sent for error in s[3]][:5])
