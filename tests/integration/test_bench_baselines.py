"""Tier 3: the benchmark's baselines against the real Elasticsearch node (and readpst).

Indices are scratch-test-* (the `scratch_index` fixture), deleted after each test.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.bench import baselines
from pipeline.bench.baselines import (build_bulk_files, ceiling_bulk, naive_ingest,
                                      naive_ingest_apart, readpst_extract)
from pipeline.index.indices import load_mapping

from helpers import corpus_path, write_bulk_files

pytestmark = pytest.mark.integration

PLAIN = (b"From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: hello\n"
         b"Date: Mon, 01 Jan 2001 10:00:00 +0000\nMessage-ID: <1@example.com>\n\nHello Bob.\n")
# A date nobody can parse, a multipart without a boundary, an unknown charset, broken headers.
MALFORMED = (b"From: =?utf-8?q?broken <<<@@@\nTo: ,,,@,\nSubject: =?x-unknown?b?!!!?=\n"
             b"Date: the thirty-second of Smarch\nContent-Type: multipart/mixed\n"
             b"Content-Transfer-Encoding: base64\n\n--nothing\n"
             b"Content-Type: text/plain; charset=x-no-such-charset\n\ngarbage %%%\n")
WITH_ATTACHMENT = (b"From: Carol <carol@example.com>\nTo: bob@example.com\nSubject: attachment\n"
                   b"Date: Tue, 02 Jan 2001 10:00:00 +0000\n"
                   b"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n"
                   b"See attached.\n--b\nContent-Type: application/pdf\n"
                   b"Content-Disposition: attachment; filename=\"report.pdf\"\n"
                   b"Content-Transfer-Encoding: base64\n\nJVBERi0=\n--b--\n")


@pytest.fixture
def mbox_with_one_malformed_message(tmp_path):
    path = tmp_path / "three.mbox"
    path.write_bytes(b"".join(b"From sender@example.com Mon Jan  1 00:00:00 2001\n" + message + b"\n"
                              for message in (PLAIN, MALFORMED, WITH_ATTACHMENT)))
    return path


def item_docs(count: int) -> list[tuple[str, dict]]:
    return [(f"doc-{n:03d}", {"id": f"doc-{n:03d}", "type": "email", "subject": f"memo {n}",
                              "body": "quarterly numbers " * 20, "from": "Alice <alice@example.com>",
                              "to": ["bob@example.com"], "custodians": ["Alice Able"],
                              "date": "2001-01-01T10:00:00", "size": 400 + n, "has_attachments": False})
            for n in range(count)]


def test_naive_ingest_indexes_every_message_and_counts_what_it_could_not_read(
        es_client, scratch_index, mbox_with_one_malformed_message):
    result = naive_ingest([mbox_with_one_malformed_message], es_client, scratch_index)
    assert result.items == 3
    assert result.bytes == mbox_with_one_malformed_message.stat().st_size
    assert result.extra["errors"] == {"message": 0, "body": 1, "date": 1}
    assert result.extra["indexed"] == 3 and result.extra["failed"] == 0
    assert es_client.count(index=scratch_index)["count"] == 3
    hits = es_client.search(index=scratch_index, query={"match": {"subject": "attachment"}})["hits"]["hits"]
    assert [hit["_source"]["attachments"] for hit in hits] == [["report.pdf"]]
    assert hits[0]["_source"]["date"] == "2001-01-02T10:00:00+00:00"


def test_naive_ingest_with_a_limit_counts_only_the_bytes_it_read(
        es_client, scratch_index, mbox_with_one_malformed_message):
    result = naive_ingest([mbox_with_one_malformed_message], es_client, scratch_index, limit=2)
    assert result.items == 2
    # Each message as mailbox hands it over: without its From_ line or the blank line after it.
    assert result.bytes == len(PLAIN) + len(MALFORMED)
    assert es_client.count(index=scratch_index)["count"] == 2


def test_naive_ingest_apart_runs_in_a_child_and_leaves_this_process_as_it_was(
        test_config, es_client, scratch_index, mbox_with_one_malformed_message):
    import multiprocessing
    import os

    result = naive_ingest_apart([mbox_with_one_malformed_message], test_config.elasticsearch,
                                scratch_index)
    assert result.extra["process"] != os.getpid()
    assert result.items == 3 and result.extra["indexed"] == 3
    assert result.extra["errors"] == {"message": 0, "body": 1, "date": 1}
    assert es_client.count(index=scratch_index)["count"] == 3
    assert not multiprocessing.active_children()


def test_trawl_run_apart_measures_a_driver_and_jvm_of_its_own(test_config, es_client,
                                                              mbox_with_one_malformed_message):
    import multiprocessing
    import os

    import yaml

    from pipeline.bench.measure import run_apart
    from pipeline.bench.runner import trawl_run
    from pipeline.progress import silent

    manifest = mbox_with_one_malformed_message.with_name("manifest.yaml")
    manifest.write_text(yaml.safe_dump({"case": "unused", "sources": [
        {"custodian": "Jane Smith", "paths": [str(mbox_with_one_malformed_message)]}]}))
    run = run_apart(trawl_run, test_config, manifest, "test-bench-apart",
                    mbox_with_one_malformed_message.stat().st_size, silent)
    assert run["process"] != os.getpid()
    assert run["summary"]["case"] == "test-bench-apart"
    assert run["summary"]["items_by_type"] == {"email": 3, "attachment": 2, "exception": 1}
    assert run["summary"]["indexed"] == run["summary"]["staged"] == 6
    whole_run = run["steps"][-1]["peak_rss_mb"]
    assert whole_run["driver (python)"] > 20 and whole_run["spark jvm"] > 100
    assert not multiprocessing.active_children()


def test_ceiling_bulk_indexes_every_prebuilt_document_with_the_real_mapping(
        es_client, scratch_index, tmp_path):
    files = write_bulk_files(item_docs(200), tmp_path / "bulk", chunk_bytes=16 * 1024)
    assert len(files) > 3
    result = ceiling_bulk(tmp_path / "bulk", es_client, scratch_index, load_mapping())
    assert (result.items, result.extra["failed"]) == (200, 0)
    assert result.bytes == sum(path.stat().st_size for path in files)
    assert es_client.count(index=scratch_index)["count"] == 200
    settings = es_client.indices.get_settings(index=scratch_index)[scratch_index]["settings"]["index"]
    assert settings["number_of_replicas"] == "0" and "refresh_interval" not in settings
    assert es_client.get(index=scratch_index, id="doc-007")["_source"]["subject"] == "memo 7"


def test_ceiling_bulk_counts_documents_the_strict_mapping_rejects(es_client, scratch_index, tmp_path):
    docs = item_docs(10) + [("stray", {"id": "stray", "no_such_field": "x"})]
    write_bulk_files(docs, tmp_path / "bulk")
    result = ceiling_bulk(tmp_path / "bulk", es_client, scratch_index, load_mapping(), workers=1)
    assert (result.items, result.extra["failed"], result.extra["documents_sent"]) == (10, 1, 11)
    assert result.extra["first_errors"][0]["type"] == "strict_dynamic_mapping_exception"
    assert es_client.count(index=scratch_index)["count"] == 10


@pytest.mark.spark
def test_bulk_files_hold_the_documents_trawl_sends(spark, es_client, scratch_index, tmp_path):
    from pipeline.schema import field_names, spark_schema

    empty = dict.fromkeys(field_names())
    rows = [{**empty, "id": "a1", "type": "email", "subject": "hello", "custodians": ["Alice Able"],
             "date": datetime(2001, 1, 1, 10, 0, tzinfo=timezone.utc),
             "body_html": "<p>staging only</p>", "to": []},
            {**empty, "id": "b2", "type": "attachment", "size": 12, "recovered": False}]
    spark.createDataFrame(rows, spark_schema()).write.parquet(str(tmp_path / "items.parquet"))

    files = build_bulk_files(spark, tmp_path / "items.parquet", tmp_path / "bulk")
    lines = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    assert sorted(lines[1::2], key=lambda doc: doc["id"]) == [
        {"id": "a1", "type": "email", "subject": "hello", "custodians": ["Alice Able"],
         "date": "2001-01-01T10:00:00+00:00"},
        {"id": "b2", "type": "attachment", "size": 12, "recovered": False}]
    assert sorted(action["index"]["_id"] for action in lines[::2]) == ["a1", "b2"]
    assert ceiling_bulk(tmp_path / "bulk", es_client, scratch_index, load_mapping()).items == 2


@pytest.mark.spark
def test_bulk_files_take_a_seeded_sample_of_about_the_limit(spark, tmp_path):
    from pipeline.schema import field_names, spark_schema

    empty = dict.fromkeys(field_names())
    rows = [{**empty, "id": f"d{n:04d}", "type": "email"} for n in range(2000)]
    spark.createDataFrame(rows, spark_schema()).repartition(4) \
        .write.parquet(str(tmp_path / "items.parquet"))

    def sampled(name: str) -> list[str]:
        files = build_bulk_files(spark, tmp_path / "items.parquet", tmp_path / name, limit=500)
        return sorted(json.loads(line)["id"] for path in files
                      for line in path.read_text().splitlines()[1::2])

    first = sampled("one")
    assert 350 < len(first) < 650 and len(set(first)) == len(first)
    assert sampled("two") == first


def test_readpst_extract_writes_the_items_of_a_pst(tmp_path):
    pst = corpus_path("aleph", "testPST.pst")
    if not Path(baselines.READPST).exists():
        pytest.skip("readpst is not installed (apt-get install pst-utils)")
    result = readpst_extract([pst], tmp_path)
    assert result.items > 0 and result.extra["sequential"]["items"] > 0
    assert result.bytes == pst.stat().st_size
    assert result.extra["failed_exit_codes"] == {}
    assert not any(tmp_path.iterdir())  # the extracted files are removed afterwards


def test_readpst_extract_reports_a_file_it_cannot_open(tmp_path):
    if not Path(baselines.READPST).exists():
        pytest.skip("readpst is not installed (apt-get install pst-utils)")
    not_a_pst = tmp_path / "mail.pst"
    not_a_pst.write_bytes(b"this is no PST")
    result = readpst_extract([not_a_pst], tmp_path / "work")
    assert result.items == 0
    assert result.extra["failed_exit_codes"] == {str(not_a_pst): 1}


def test_readpst_extract_without_readpst_is_skipped_not_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(baselines, "READPST", str(tmp_path / "no-readpst"))
    result = readpst_extract([tmp_path / "any.pst"], tmp_path)
    assert (result.items, result.extra["skipped"]) == (0, "readpst not installed")
