"""Tier 3: the public PSTs, OSTs and RARs (tests/public_fixtures.py) ingested end to end, with
the real Spark, Tika and Elasticsearch: a document attached to a message forwarded inside a PST
message is found by a word of its text, with its family."""

import dataclasses

import pytest

from pipeline.manifest import parse_manifest
from pipeline.reconcile import reconcile
from pipeline.search import SearchRequest, search
from pipeline.stats import case_stats

from helpers import ingest_case
from public_fixtures import public_file

pytestmark = pytest.mark.integration

CASE = "test-public-stores"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("scratch")


@pytest.fixture(scope="module")
def stores_case(spark, test_config, es_client, scratch):
    # testPST.pst's forwarded message comes from pffexport, whose export the units share here.
    config = test_config.replace(ingest=dataclasses.replace(test_config.ingest,
                                                            scratch_dir=str(scratch)))
    tika, enron = public_file("testPST.pst"), public_file("enron.pst")
    outlook = [public_file("pstextractortest.ost"), public_file("pstextractortestpdf.ost")]
    manifest = parse_manifest({"case": CASE, "sources": [
        {"custodian": "Apache Tika", "paths": [str(tika)]},
        {"custodian": "Michelle Lokay", "paths": [str(enron)]},
        {"custodian": "Pst Extractor", "paths": [str(path) for path in outlook]},
        {"custodian": "Archives", "paths": [str(public_file("rar/rar5-psw.rar").parent)]}]},
        tika.parent)
    return ingest_case(spark, config, manifest)


def source(es_client, case, item_id):
    return es_client.get(index=case.alias, id=item_id)["_source"]


def test_every_store_reconciles(stores_case, es_client, test_config):
    report = reconcile(es_client, test_config.elasticsearch, CASE,
                       test_config.paths.case_dir(CASE))
    assert report["reconciled"], report["gaps"]
    assert report["totals"]["files"] == 4 + 11
    assert report["totals"]["found"] == report["totals"]["indexed"] == stores_case.staged
    # Only the RARs have any: two encrypted entries, encrypted headers, and the later volumes
    # of the two multi-volume sets, whose entries are read with their first volumes.
    assert stores_case.exceptions == 2 + 1 + 4


def test_a_multi_volume_rar_is_searchable_from_its_first_volume(stores_case, es_client,
                                                                test_config):
    found = search(es_client, test_config.elasticsearch,
                   SearchRequest(case=CASE, query="*", types=("exception",), limit=50))
    volumes = [source(es_client, stores_case, hit.id) for hit in found.hits]
    later = sorted(doc["file_name"] for doc in volumes
                   if doc["exception_reason"] == "multi_volume")
    assert later == ["rar3-vols.part2.rar", "rar3-vols.part3.rar", "rar5-vols.part2.rar",
                     "rar5-vols.part3.rar"]
    entries = search(es_client, test_config.elasticsearch, SearchRequest(
        case=CASE, query="*", types=("attachment",), custodians=("Archives",), limit=50,
        duplicates=True))
    big = [hit for hit in entries.hits if hit.file_name == "bigfile.txt"]
    assert len(big) == 2 and all(hit.family["level"] == 1 for hit in big)


def test_the_run_removed_its_scratch_folder(stores_case, scratch):
    assert list(scratch.iterdir()) == []


def test_a_word_of_a_document_in_a_forwarded_pst_message_finds_it_with_its_family(
        stores_case, es_client, test_config):
    found = search(es_client, test_config.elasticsearch,
                   SearchRequest(case=CASE, query='"This is a docx attachment"', limit=10))
    [hit] = found.hits
    assert hit.type == "attachment" and hit.file_name == "attachment.docx"
    assert hit.family["level"] == 2
    inner = source(es_client, stores_case, hit.family["parent_id"])
    outer = source(es_client, stores_case, inner["parent_id"])
    assert (inner["type"], inner["subject"], inner["level"]) == ("email", "First email", 1)
    assert (outer["type"], outer["subject"], outer["level"]) == ("email", "FW: First email", 0)
    assert hit.family["id"] == inner["family_id"] == outer["id"]
    assert outer["custodian"] == "Apache Tika"


def test_an_ost_attachment_is_searchable_under_its_message_and_its_appointment(
        stores_case, es_client, test_config):
    es = test_config.elasticsearch
    found = search(es_client, es, SearchRequest(case=CASE, query="Clinometer",
                                                types=("attachment",), limit=50,
                                                duplicates=True))
    copies = [source(es_client, stores_case, hit.id) for hit in found.hits
              if hit.file_name == "Clinometer Usage.pdf"]
    # The PDF is attached to three messages and an appointment of one OST and a message of the
    # other (readpst and pffexport list them); Tika read its text in each.
    assert len(copies) == 5
    assert len({doc["sha256"] for doc in copies}) == 1
    assert all("Technical Support" in doc["body"] for doc in copies)
    parents = [source(es_client, stores_case, doc["parent_id"])["type"] for doc in copies]
    assert sorted(parents) == ["appointment", "email", "email", "email", "email"]
    # Attachments follow their families (docs/deduplication.md): four messages and
    # an appointment, so no copy is a duplicate of another.
    assert not any(doc["is_duplicate"] for doc in copies)


def test_stats_count_the_stores_item_classes(stores_case, es_client, test_config):
    figures = case_stats(es_client, test_config.elasticsearch, CASE)
    by_type = {kind: figures["by_type"][kind]["total"] for kind in figures["by_type"]}
    # readpst and pffexport agree on these (tests/unit/test_pst.py): 8 + 71 + 14 + 2 emails at
    # the top, the forwarded one inside, 169 + 160 appointments.
    assert by_type["email"] == 8 + 71 + 14 + 2 + 1
    assert by_type["appointment"] == 169 + 160
    assert by_type["attachment"] == 1 + 70 + 34 + 12 + 10   # the RARs' 10 readable entries
    assert by_type["document"] == 11
    assert figures["exceptions"] == stores_case.exceptions
