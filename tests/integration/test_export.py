"""Tier 3: exporting every hit with a point in time and search_after.

More than 10,000 documents would take too long here, so a page size of 7 over 31 documents
shows the same thing: every hit exactly once across pages, and the point in time closed.
"""

from __future__ import annotations

import csv
import json

import pytest

from pipeline.errors import QuerySyntaxError
from pipeline.export import ExportError, export_hits
from pipeline.search import SearchRequest, search

from helpers import create_case
from test_reports import search_counts_only_unique_items

pytestmark = pytest.mark.integration

CASE = "test-qexport"
# 31 hits for "memo": some share a date (the id breaks the tie), some have none (sorted last).
DOCS = [{"id": f"m{n:02d}", "type": "email", "subject": f"memo {n}", "body": "quarterly memo",
         "custodians": ["Alice Able", "Bob Baker"] if n % 2 else ["Alice Able"],
         "is_duplicate": n % 5 == 0,
         **({"date": f"2002-0{1 + n % 3}-01T00:00:00Z"} if n % 4 else {})}
        for n in range(31)]
DOCS += [{"id": "x1", "type": "email", "subject": "lunch", "body": "sandwiches"},
         {"id": "x2", "type": "exception", "subject": "memo", "body": "memo unreadable"}]


@pytest.fixture(scope="module")
def case_index(es_client, test_config):
    index = create_case(es_client, test_config.elasticsearch, CASE, DOCS)
    yield index
    es_client.indices.delete(index=index)


def expected_order(keep) -> list[str]:
    """The crafted hits search returns, in export order: by date (undated last), then id."""
    unique_only = search_counts_only_unique_items()
    hits = [doc for doc in DOCS if doc["id"].startswith("m") and keep(doc)
            and not (unique_only and doc["is_duplicate"])]
    return [doc["id"] for doc in sorted(hits, key=lambda d: (d.get("date", "~"), d["id"]))]


def open_contexts(client, index: str) -> int:
    stats = client.indices.stats(index=index, metric="search")
    return stats["indices"][index]["total"]["search"]["open_contexts"]


def test_csv_export_pages_through_every_hit_once(es_client, test_config, case_index, tmp_path):
    es = test_config.elasticsearch
    request = SearchRequest(case=CASE, query="memo", limit=3)
    progress: list[tuple[int, int]] = []
    path = tmp_path / "hits.csv"
    summary = export_hits(es_client, es, request, path, "csv", page_size=7,
                          progress=lambda done, total: progress.append((done, total)))
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    ids = [row["id"] for row in rows]
    total = search(es_client, es, request).total
    assert len(ids) == len(set(ids)) == total == summary.exported == summary.total
    assert ids == expected_order(lambda doc: True)
    assert progress == [(min(done, total), total) for done in range(7, total + 7, 7)]
    by_id = {row["id"]: row for row in rows}
    assert by_id["m01"]["custodians"] == "Alice Able; Bob Baker"
    assert by_id["m01"]["date"] == "2002-02-01T00:00:00Z" and by_id["m04"]["date"] == ""
    assert open_contexts(es_client, case_index) == 0
    assert not (tmp_path / "hits.csv.partial").exists()


def test_jsonl_export_with_filters(es_client, test_config, case_index, tmp_path):
    path = tmp_path / "hits.jsonl"
    request = SearchRequest(case=CASE, query="memo", custodians=("Bob Baker",))
    summary = export_hits(es_client, test_config.elasticsearch, request, path, "jsonl",
                          page_size=4)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == expected_order(
        lambda doc: "Bob Baker" in doc["custodians"])
    assert summary.exported == len(lines)
    assert all(line["custodians"] == ["Alice Able", "Bob Baker"] for line in lines)
    assert open_contexts(es_client, case_index) == 0


def test_no_hits_gives_a_header_only_file(es_client, test_config, case_index, tmp_path):
    path = tmp_path / "none.csv"
    summary = export_hits(es_client, test_config.elasticsearch,
                          SearchRequest(case=CASE, query="nothingmatches"), path)
    assert summary.exported == 0
    assert path.read_text(encoding="utf-8").startswith("id,type,")
    assert open_contexts(es_client, case_index) == 0


def test_a_failing_export_closes_the_pit_and_leaves_no_file(es_client, test_config, case_index,
                                                            tmp_path):
    path = tmp_path / "bad.csv"
    with pytest.raises(QuerySyntaxError):
        export_hits(es_client, test_config.elasticsearch,
                    SearchRequest(case=CASE, query="memo AND"), path)
    assert not path.exists() and not (tmp_path / "bad.csv.partial").exists()
    assert open_contexts(es_client, case_index) == 0
    with pytest.raises(ExportError, match="unknown export format"):
        export_hits(es_client, test_config.elasticsearch,
                    SearchRequest(case=CASE, query="memo"), path, "xml")
