"""Tier 2: case-management exports through record_items on the shared local Spark session.

The truth comes from the generator's own bookkeeping, never from the pipeline's output.
"""

import json

import pytest

from pipeline.cms.generator import custodian_identities, generate_exports, manifest_records_entry
from pipeline.cms.transform import (EXPORT_FIELDS, describe_exports, read_rejects, record_items,
                                    write_rejects)
from pipeline.manifest import parse_manifest
from pipeline.reconcile import export_gaps, source_counts
from pipeline.schema import spark_schema
from pipeline.transforms.ingest import SOURCE_FIELDS

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cms")
    (folder / "mail").mkdir()
    exports = generate_exports(folder / "records", seed=20240501, cases=4)
    manifest = parse_manifest({
        "case": "spark-cms",
        "sources": [dict(identity, paths=["mail"]) for identity in custodian_identities()],
        "records": [manifest_records_entry(exports, folder)]}, folder)
    return exports, manifest


@pytest.fixture(scope="module")
def frames(spark, generated, base_config):
    _, manifest = generated
    exports = describe_exports(spark, manifest).cache()
    items, sources = record_items(spark, manifest, base_config, exports)
    return exports, items.cache(), sources


def test_frames_have_the_item_and_source_schemas(frames):
    exports, items, sources = frames
    assert items.schema == spark_schema()
    assert [field.name for field in sources.schema] == [name for name, _ in SOURCE_FIELDS]
    assert [field.name for field in exports.schema] == [name for name, _ in EXPORT_FIELDS]
    assert sorted(row.format for row in sources.collect()) == ["csv", "jsonl", "xlsx"]
    assert all(row.error is None and len(row.sha256) == 64 for row in sources.collect())
    assert items.rdd.getNumPartitions() == 3  # one task per export file


def test_rows_read_equal_records_plus_rejects_for_every_file(frames, generated):
    truth = generated[0].truth
    exports, items, _ = frames
    counted = {(row.source_path, row.type): row["count"]
               for row in items.groupBy("source_path", "type").count().collect()}
    for row in exports.collect():
        file_truth = next(f for f in truth.files.values() if f.path == row.path)
        records = counted.get((row.path, "record"), 0)
        rejects = counted.get((row.path, "exception"), 0)
        assert row.rows_read == records + rejects == file_truth.rows
        assert (records, rejects) == (file_truth.records, len(file_truth.rejects))


def test_sources_json_rows_carry_the_identity_and_it_holds(frames):
    exports, items, sources = frames
    rows = list(source_counts(sources, items, exports))
    assert len(rows) == 3
    for row in rows:
        assert row["system"] == "psd-cms" and row["custodian"] == "psd-cms"
        assert row["rows_read"] == row["records"] + row["rejects"]
        assert row["found"] == {"exception": row["rejects"], "record": row["records"]}
    assert export_gaps(rows) == []
    broken = [dict(rows[0], rows_read=rows[0]["rows_read"] + 1)]
    assert export_gaps(broken) == [f"{rows[0]['path']}: read {rows[0]['rows_read'] + 1} row(s) "
                                   f"but found {rows[0]['records']} record(s) and "
                                   f"{rows[0]['rejects']} reject(s)"]


def test_every_bad_row_is_rejected_with_the_reason_the_generator_wrote(frames, generated):
    truth = generated[0].truth
    _, items, _ = frames
    found = {(row.source_path, int(row.source_locator.split()[-1])): row.exception_reason
             for row in items.where("type = 'exception'").collect()}
    expected = {(f.path, number): f"reject:{reason}"
                for f in truth.files.values() for number, reason in f.rejects.items()}
    assert found == expected


def test_custodians_are_linked_as_the_generator_wrote_them(frames, generated):
    truth = generated[0].truth
    _, items, _ = frames
    # Formatted by Spark in the session's time zone (UTC), whatever the machine's zone is.
    records = items.where("type = 'record'").selectExpr(
        "record_id", "custodian", "custodians",
        "date_format(date, \"yyyy-MM-dd'T'HH:mm:ss'+00:00'\") AS date").collect()
    assert len(records) == len(truth.links)
    for record in records:
        assert set(record.custodians) == set(truth.links[record.record_id]), record.record_id
        assert record.custodian == truth.first_custodian[record.record_id], record.record_id
        assert record.date == truth.dates[record.record_id]
    assert sum(1 for r in records if r.custodians) > len(records) // 2


def test_ids_are_deterministic_across_runs_and_regenerated_exports(spark, generated, frames,
                                                                   base_config):
    exports, manifest = generated
    _, items, _ = frames
    first = sorted(row.id for row in items.select("id").collect())
    generate_exports(exports.directory, seed=20240501, cases=4)  # the same bytes again
    again, _ = record_items(spark, manifest, base_config)
    assert sorted(row.id for row in again.select("id").collect()) == first
    assert len(set(first)) == len(first)


def test_rejects_file_lists_every_reject_in_file_and_row_order(frames, generated, tmp_path):
    truth = generated[0].truth
    _, items, _ = frames
    assert write_rejects(items, tmp_path) == sum(len(f.rejects) for f in truth.files.values())
    rejects = read_rejects(tmp_path)
    assert [(r["file"], r["row"]) for r in rejects] == sorted((r["file"], r["row"])
                                                              for r in rejects)
    assert {(r["file"], r["row"], r["reason"]) for r in rejects} == {
        (f.path, number, reason) for f in truth.files.values()
        for number, reason in f.rejects.items()}
    first = rejects[0]
    assert set(first) == {"file", "system", "row", "locator", "reason", "message", "record_id",
                          "content", "id"}
    assert first["message"].startswith(first["file"].rsplit("/", 1)[1] + " " + first["locator"])
    # A re-run replaces the file rather than appending to it.
    write_rejects(items, tmp_path)
    assert len(read_rejects(tmp_path)) == len(rejects)
    json.dumps(rejects)


def test_a_manifest_without_records_gives_empty_frames(spark, tmp_path, base_config):
    (tmp_path / "mail").mkdir()
    manifest = parse_manifest({"case": "none", "sources": [
        {"custodian": "Jane Smith", "paths": ["mail"]}]}, tmp_path)
    items, sources = record_items(spark, manifest, base_config)
    assert items.count() == 0 and sources.count() == 0
