"""Tier 3: the reports agree with `trawl search` and `trawl stats` on the SpamAssassin case."""

import pytest

from pipeline.reports.custodians import custodian_report
from pipeline.reports.terms import term_report
from pipeline.search import SearchRequest, search
from pipeline.stats import case_stats

pytestmark = pytest.mark.integration

TERMS = ["money", "click w/3 here", '"free software"']


def test_term_report_hits_equal_search_totals(demo_case, es_client, test_config):
    es = test_config.elasticsearch
    report = term_report(es_client, es, "test-demo", TERMS)
    for row in report.rows:
        found = search(es_client, es, SearchRequest(case="test-demo", query=row.term, limit=0))
        assert row.counts.hits == found.total, row.term
    everything = search(es_client, es, SearchRequest(
        case="test-demo", query=" OR ".join(f"({term})" for term in TERMS), limit=0))
    assert report.totals.counts.hits == everything.total


def test_custodian_report_carries_the_stats_figures(demo_case, es_client, test_config):
    es = test_config.elasticsearch
    figures = case_stats(es_client, es, "test-demo")
    report = custodian_report(es_client, es, "test-demo")
    assert report.stats == figures
    for custodian in report.custodians:
        assert custodian.items == figures["by_custodian"][custodian.custodian]["total"]
        assert custodian.unique == figures["by_custodian"][custodian.custodian]["unique"]
        assert sum(count for _, count in custodian.months) + custodian.undated == custodian.items
