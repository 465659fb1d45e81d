"""Tier 3 fixtures: the real Elasticsearch and Tika started by `make test`, and ingested cases.

Cases made here are named test-*, staged in a temporary folder, and deleted afterwards.
"""

from __future__ import annotations

import pytest

from pipeline.errors import ServiceError
from pipeline.extract import check_tika
from pipeline.index.client import connect
from pipeline.manifest import load_manifest, parse_manifest

from helpers import ingest_case


@pytest.fixture(scope="session")
def es_client(test_config):
    try:
        client = connect(test_config.elasticsearch)
        check_tika(test_config.tika)
    except ServiceError as exc:
        pytest.fail(f"integration tests need the services: run them with `make test` "
                    f"(or `trawl services up` first). {exc}")
    yield client
    prefix = f"{test_config.elasticsearch.index_prefix}-test-"
    for index in client.indices.get(index=f"{prefix}*", expand_wildcards="all"):
        client.indices.delete(index=index)


@pytest.fixture
def scratch_index(es_client, request):
    """A fresh index name for one test, deleted afterwards."""
    index = f"scratch-test-{request.node.name.replace('_', '-')[:60]}".lower()
    yield index
    es_client.indices.delete(index=index, ignore_unavailable=True)


@pytest.fixture(scope="session")
def demo_corpus(test_config):
    from pipeline import demo

    return demo.prepare(test_config)


@pytest.fixture(scope="session")
def demo_case(spark, test_config, es_client, demo_corpus):
    """The whole SpamAssassin corpus, ingested as case test-demo."""
    manifest = load_manifest(demo_corpus.manifest)
    renamed = parse_manifest(
        {"case": "test-demo",
         "sources": [{"custodian": s.custodian, "paths": [str(p) for p in s.paths]}
                     for s in manifest.sources]}, demo_corpus.manifest.parent)
    summary = ingest_case(spark, test_config, renamed)
    return renamed, summary
