"""Tier 2: the ingest DataFrame steps on a real local Spark session (no services)."""

import dataclasses

import pytest

from pipeline.demo import mbox_entry
from pipeline.manifest import parse_manifest
from pipeline.transforms.ingest import (describe_sources, discover_files, files_frame,
                                        plan_work_units, read_items)

from helpers import corpus_path

pytestmark = pytest.mark.spark


def crafted_message(number: int) -> bytes:
    return (f"From: sender{number}@example.org\nTo: jane@example.org\n"
            f"Subject: message {number}\nMessage-ID: <m{number}@example.org>\n"
            f"Date: Mon, 0{number % 9 + 1} Jul 2019 10:00:00 +0000\n\n"
            f"Body of message {number}.\nFrom the desk of nobody\n").encode()


@pytest.fixture
def evidence(tmp_path):
    folder = tmp_path / "evidence"
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / "jane.mbox").write_bytes(b"".join(mbox_entry(crafted_message(n))
                                                for n in range(40)))
    (folder / "nested" / "single.eml").write_bytes(crafted_message(99))
    (folder / "nested" / "deeper" / "empty.dat").write_bytes(b"")
    (folder / "nested" / "deeper" / "blob.bin").write_bytes(bytes(range(256)) * 4)
    return folder


def manifest_for(folder, case="spark-test"):
    return parse_manifest({"case": case, "sources": [{"custodian": "Jane Smith",
                                                      "paths": [str(folder)]}]}, folder)


def ingest(spark, test_config, manifest, split_bytes):
    offline_tika = dataclasses.replace(test_config.tika, url="http://127.0.0.1:9", retries=0)
    sources = describe_sources(files_frame(spark, manifest)).cache()
    units = plan_work_units(sources, split_bytes).cache()
    items = read_items(units, offline_tika, test_config.ingest, units.count())
    return sources, units, items


def test_files_are_walked_recursively_in_a_stable_order(evidence):
    rows = discover_files(manifest_for(evidence))
    names = [row[3].rsplit("/", 1)[1] for row in rows]
    assert names == ["jane.mbox", "single.eml", "blob.bin", "empty.dat"]


def test_every_file_is_hashed_and_detected(spark, test_config, evidence):
    sources, _, _ = ingest(spark, test_config, manifest_for(evidence), 1 << 20)
    by_name = {row.path.rsplit("/", 1)[1]: row for row in sources.collect()}
    assert {name: row.format for name, row in by_name.items()} == {
        "jane.mbox": "mbox", "single.eml": "eml", "empty.dat": "document",
        "blob.bin": "document"}
    assert by_name["empty.dat"].sha256 == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert by_name["jane.mbox"].size == (evidence / "jane.mbox").stat().st_size


def test_split_mbox_reads_the_same_items_as_a_whole_read(spark, test_config, evidence):
    _, whole_units, whole = ingest(spark, test_config, manifest_for(evidence), 1 << 30)
    _, split_units, split = ingest(spark, test_config, manifest_for(evidence), 300)
    assert split_units.where("format = 'mbox'").count() > 10
    assert whole_units.where("format = 'mbox'").count() == 1
    whole_ids = sorted(row.id for row in whole.select("id").collect())
    split_ids = sorted(row.id for row in split.select("id").collect())
    assert split_ids == whole_ids
    subjects = {row.subject for row in split.where("type = 'email'").collect()}
    assert subjects == {f"message {n}" for n in list(range(40)) + [99]}


def test_files_that_yield_no_text_are_kept_with_an_exception(spark, test_config, evidence):
    _, _, items = ingest(spark, test_config, manifest_for(evidence), 1 << 20)
    exceptions = {row.file_name: row.exception_reason
                  for row in items.where("type = 'exception'").collect()}
    # This tier runs without Tika, so the binary file's text cannot be extracted.
    assert exceptions == {"empty.dat": "empty", "blob.bin": "tika_unavailable"}
    documents = {row.file_name for row in items.where("type = 'document'").collect()}
    assert documents == {"empty.dat", "blob.bin"}
    assert items.where("type = 'email'").count() == 41


def test_shared_corpus_folder_is_fully_accounted_for(spark, test_config):
    folder = corpus_path("aleph")
    sources, _, items = ingest(spark, test_config, manifest_for(folder, "aleph"), 1 << 20)
    files = {row.path for row in sources.collect()}
    top_level = items.where("level = 0 or type = 'exception'")
    accounted = {row.source_path for row in top_level.select("source_path").collect()}
    assert accounted == files
    assert items.where("type = 'email' and level = 0").count() >= 11


def test_items_cross_as_arrow_batches_as_they_would_as_pickled_rows(spark):
    """The read stage hands items over as Arrow batches; they must land as pickled rows did:
    lone surrogates as U+FFFD, dates in UTC (a naive one read as local time), arrays, nulls."""
    from datetime import datetime, timedelta, timezone

    from pipeline.arrow_items import item_batch, item_schema
    from pipeline.records import Item
    from pipeline.schema import spark_schema

    items = [Item(id="a", case="c", type="email", subject="caf\udce9 menu", level=2,
                  recipient_addresses=["b@example.org", "\ud800@example.org"],
                  date=datetime(2021, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
                  body="line\udc80\r\n  wrapped\ud83d\ude00", has_attachments=True,
                  near_duplicate_score=0.75, size=2 ** 40),
             Item(id="b", case="c", type="document", date=datetime(2020, 2, 29, 23, 59, 59),
                  attachment_names=[], decode_warnings=["x"]),
             Item(id="c", case="c", type="exception")]
    rows = [item.to_row() for item in items]
    pickled = spark.createDataFrame(spark.sparkContext.parallelize(rows, 1), spark_schema(),
                                    verifySchema=False)
    batch = item_batch(rows, item_schema())
    arrow = spark.range(1).repartition(1).mapInArrow(lambda _: iter([batch]), spark_schema())
    assert arrow.schema == pickled.schema
    assert sorted(arrow.collect()) == sorted(pickled.collect())
