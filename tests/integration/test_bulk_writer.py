"""Tier 3: the bulk writer against the real Elasticsearch node, with several requests in flight."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.index.bulk import write_partition
from pipeline.index.indices import load_mapping

pytestmark = pytest.mark.integration


def test_every_document_is_indexed_or_a_dead_letter_with_chunks_in_flight(
        es_client, scratch_index, test_config, tmp_path):
    es_client.indices.create(index=scratch_index, mappings=load_mapping()["mappings"])
    bulk = dataclasses.replace(test_config.elasticsearch.bulk, chunk_size=7, senders=3)
    es = dataclasses.replace(test_config.elasticsearch, bulk=bulk)
    # Every tenth document has a field the strict mapping refuses; ids are spread over
    # 15 chunks, so rejects land in chunks that are in flight together.
    rows = [{"id": f"doc-{n:03d}", "type": "email", "subject": f"memo {n}",
             "date": "2001-01-01T10:00:00+00:00", "recipient_addresses": [],
             **({"no_such_field": "x"} if n % 10 == 3 else {})} for n in range(100)]
    dead_letters = tmp_path / "dead" / "part-00000.jsonl"

    outcome = write_partition(iter(rows), es, scratch_index, str(dead_letters))

    assert (outcome.indexed, outcome.failed) == (90, 10)
    rejected = [json.loads(line)["index"]["_id"] for line in
                dead_letters.read_text(encoding="utf-8").splitlines()]
    assert sorted(rejected) == [f"doc-{n:03d}" for n in range(3, 100, 10)]
    es_client.indices.refresh(index=scratch_index)
    found = {hit["_id"] for hit in es_client.search(
        index=scratch_index, size=200, source=False, query={"match_all": {}})["hits"]["hits"]}
    assert found == {row["id"] for row in rows} - set(rejected)
