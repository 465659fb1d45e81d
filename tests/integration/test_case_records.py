"""Tier 3: case-management exports through the whole job, next to mail, linked to custodians."""

import email.message

import pytest

from pipeline.cms.generator import custodian_identities, generate_exports, manifest_records_entry
from pipeline.cms.transform import read_rejects
from pipeline.manifest import parse_manifest
from pipeline.reconcile import reconcile
from pipeline.search import SearchRequest, search
from pipeline.stats import case_stats

from helpers import ingest_case

pytestmark = pytest.mark.integration

CASE = "test-records"


def mailbox_for(folder, custodian: str, address: str):
    folder.mkdir(parents=True)
    message = email.message.EmailMessage()
    message["From"] = address
    message["To"] = "standards@force.example"
    message["Subject"] = f"Note from {custodian}"
    message["Message-ID"] = f"<{address}>"
    message.set_content(f"{custodian} writes about the complaint.")
    (folder / "note.eml").write_bytes(message.as_bytes())
    return str(folder)


@pytest.fixture(scope="module")
def records_case(spark, test_config, es_client, tmp_path_factory):
    root = tmp_path_factory.mktemp("records-case")
    exports = generate_exports(root / "exports", seed=11, cases=10)
    sources = [dict(identity, paths=[mailbox_for(root / f"mail-{n}", identity["custodian"],
                                                 identity["emails"][0])])
               for n, identity in enumerate(custodian_identities())]
    manifest = parse_manifest({"case": CASE, "sources": sources,
                               "records": [manifest_records_entry(exports)]}, root)
    return exports, ingest_case(spark, test_config, manifest)


def test_every_row_is_a_record_or_a_reject_with_its_reason(records_case, test_config):
    exports, summary = records_case
    truth = exports.truth.files
    assert summary.items_by_type["record"] == sum(f.records for f in truth.values())
    rejects = read_rejects(test_config.paths.case_dir(CASE))
    expected = {(f.path.rsplit("/", 1)[-1], row) for f in truth.values() for row in f.rejects}
    assert {(r["file"].rsplit("/", 1)[-1], r["row"]) for r in rejects} == expected
    assert all(r["reason"] for r in rejects)


def test_stats_search_and_sources_agree_on_records(records_case, es_client, test_config):
    exports, summary = records_case
    es = test_config.elasticsearch
    figures = case_stats(es_client, es, CASE)
    assert figures["by_type"]["record"]["total"] == summary.items_by_type["record"] > 0
    every_copy = search(es_client, es, SearchRequest(case=CASE, query="*", types=("record",),
                                                     duplicates=True, limit=500))
    assert every_copy.total == figures["by_type"]["record"]["total"]
    assert figures["exceptions"] >= sum(len(f.rejects) for f in exports.truth.files.values())
    report = reconcile(es_client, es, CASE, test_config.paths.case_dir(CASE))
    assert report["reconciled"], report["gaps"]


def test_records_are_found_by_the_custodians_they_name(records_case, es_client, test_config):
    exports, _ = records_case
    linked = {}
    for record_id, names in exports.truth.links.items():
        for name in names:
            linked.setdefault(name, set()).add(record_id)
    name, record_ids = max(linked.items(), key=lambda entry: len(entry[1]))
    result = search(es_client, test_config.elasticsearch, SearchRequest(
        case=CASE, query="*", types=("record",), custodians=(name,), limit=500))
    assert 0 < result.total <= len(record_ids)
    assert all(name in hit.custodians for hit in result.hits)
