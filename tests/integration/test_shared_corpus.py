"""Tier 3: every file of ../shared/corpus ingested, each one accounted for and reconciled."""

import json

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.manifest import parse_manifest
from pipeline.reconcile import reconcile
from pipeline.search import SearchRequest, search
from pipeline.stats import case_stats

from helpers import CORPUS, corpus_path, ingest_case

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corpus_case(spark, test_config, es_client):
    corpus_path()
    folders = sorted(p for p in CORPUS.iterdir() if p.is_dir())
    manifest = parse_manifest({"case": "test-corpus", "sources": [
        {"custodian": folder.name, "paths": [str(folder)]} for folder in folders]}, CORPUS)
    return ingest_case(spark, test_config, manifest)


def corpus_files() -> set[str]:
    return {str(p) for folder in CORPUS.iterdir() if folder.is_dir()
            for p in folder.rglob("*") if p.is_file()}


def test_every_file_is_recorded_with_hashes_and_reconciles(corpus_case, es_client, test_config):
    report = reconcile(es_client, test_config.elasticsearch, "test-corpus",
                       test_config.paths.case_dir("test-corpus"))
    assert report["reconciled"], report["gaps"]
    rows = {row["path"]: row for row in report["sources"]}
    assert set(rows) == corpus_files()
    for path, row in rows.items():
        assert sum(row["found"].values()) >= 1, f"{path} yielded nothing at all"
        assert len(row["sha256"]) == 64 and len(row["md5"]) == 32
    assert report["totals"]["found"] == report["totals"]["indexed"] == corpus_case.staged


def test_cli_sources_json_reports_the_reconciliation(corpus_case, test_config, tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"paths:\n  cases_dir: {test_config.paths.cases_dir}\n")
    result = CliRunner().invoke(main, ["--config", str(overlay), "sources", "test-corpus",
                                       "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["reconciled"] is True and report["totals"]["files"] == len(corpus_files())


def test_protected_and_hostile_files_are_searchable_exceptions(corpus_case, es_client,
                                                               test_config):
    es = test_config.elasticsearch
    exceptions = search(es_client, es, SearchRequest(case="test-corpus", query="*",
                                                     types=("exception",), limit=500))
    assert exceptions.total == corpus_case.exceptions
    reasons_by_file = {}
    for hit in exceptions.hits:
        record = es_client.get(index=corpus_case.alias, id=hit.id)["_source"]
        reasons_by_file.setdefault(record.get("file_name"), set()).add(record["exception_reason"])
    assert "encrypted" in reasons_by_file["password-hunter2.pdf"]
    assert "encrypted" in reasons_by_file["7z_password.7z"]
    assert "encrypted" in reasons_by_file["encypted_by_libreoffice.odt"]
    assert "link_entry" in reasons_by_file["badzip.zip"]
    assert "empty" in reasons_by_file["empty.pdf"]


def test_documents_and_archive_entries_are_searchable_with_their_family(corpus_case, es_client,
                                                                        test_config):
    es = test_config.elasticsearch
    word = search(es_client, es, SearchRequest(case="test-corpus", query='"Hello world, Word"',
                                               types=("document", "attachment"), limit=50))
    assert word.total >= 1
    inside_archives = [es_client.get(index=corpus_case.alias, id=hit.id)["_source"]
                       for hit in search(es_client, es, SearchRequest(
                           case="test-corpus", query="*", types=("attachment",),
                           limit=500)).hits]
    archived = [doc for doc in inside_archives if doc["source_path"].endswith(
        "test-documents.zip")]
    assert archived, "nothing was read from inside test-documents.zip"
    for doc in archived:
        parent = es_client.get(index=corpus_case.alias, id=doc["parent_id"])["_source"]
        assert doc["family_id"] == parent["family_id"] and doc["level"] == parent["level"] + 1


def test_stats_count_each_type_separately(corpus_case, es_client, test_config):
    figures = case_stats(es_client, test_config.elasticsearch, "test-corpus")
    assert figures["by_type"]["email"]["total"] > 0
    assert figures["by_type"]["document"]["total"] > 0
    assert figures["by_type"]["attachment"]["total"] > 0
    assert figures["exceptions"] == corpus_case.exceptions
    assert sum(v["total"] for v in figures["by_type"].values()) == figures["items"]["total"]
