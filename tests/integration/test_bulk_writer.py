"""Tier 3: the index stage's bulk writer, from Spark to the real Elasticsearch node, with several
requests in flight."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pytest

from pipeline.index.bulk import index_items
from pipeline.index.indices import load_mapping
from pipeline.schema import es_field_names, field_names, spark_schema

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def dead_letters(directory) -> list[dict]:
    return [json.loads(line) for path in directory.glob("part-*.jsonl")
            for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_item_is_indexed_or_a_dead_letter_with_bodies_in_flight(
        spark, es_client, scratch_index, test_config, tmp_path):
    mappings = load_mapping()["mappings"]
    # Subjects mapped as numbers: ES refuses every document whose subject is a word.
    es_client.indices.create(index=scratch_index, mappings={
        **mappings, "properties": {**mappings["properties"], "subject": {"type": "long"}}})
    bulk = dataclasses.replace(test_config.elasticsearch.bulk, chunk_size=7, senders=3)
    es = dataclasses.replace(test_config.elasticsearch, bulk=bulk)
    empty = dict.fromkeys(field_names())
    # Every tenth document is refused; ids are spread over 3 tasks of about 5 bodies each, so
    # refusals land in bodies that are in flight together.
    rows = [{**empty, "id": f"doc-{n:03d}", "type": "email",
             "subject": f"memo {n}" if n % 10 == 3 else str(n),
             "date": datetime(2001, 1, 1, 10, 0, tzinfo=timezone.utc), "recipient_addresses": []}
            for n in range(100)]
    items = spark.createDataFrame(rows, spark_schema()).repartition(3)

    outcome = index_items(items, es_field_names(), es, scratch_index, str(tmp_path / "dead"))

    assert (outcome.indexed, outcome.failed) == (90, 10)
    letters = dead_letters(tmp_path / "dead")
    assert sorted(letter["index"]["_id"] for letter in letters) == [
        f"doc-{n:03d}" for n in range(3, 100, 10)]
    assert {letter["index"]["status"] for letter in letters} == {400}
    assert {letter["index"]["error"]["type"] for letter in letters} == {"document_parsing_exception"}
    # A dead letter keeps the document as it was sent, ready to be sent again.
    assert sorted(letter["document"]["subject"] for letter in letters)[0] == "memo 13"
    es_client.indices.refresh(index=scratch_index)
    found = {hit["_id"] for hit in es_client.search(
        index=scratch_index, size=200, source=False, query={"match_all": {}})["hits"]["hits"]}
    assert found == {row["id"] for row in rows} - {letter["index"]["_id"] for letter in letters}


def test_an_unreachable_node_turns_every_document_into_a_dead_letter(spark, test_config, tmp_path):
    es = dataclasses.replace(test_config.elasticsearch, url="http://127.0.0.1:9",
                             request_timeout=5)
    empty = dict.fromkeys(field_names())
    items = spark.createDataFrame([{**empty, "id": f"doc-{n}", "type": "email"} for n in range(5)],
                                  spark_schema())

    outcome = index_items(items, es_field_names(), es, "nowhere", str(tmp_path / "dead"))

    assert (outcome.indexed, outcome.failed) == (0, 5)
    letters = dead_letters(tmp_path / "dead")
    assert sorted(letter["document"]["id"] for letter in letters) == [f"doc-{n}" for n in range(5)]
    assert all(letter["index"]["error"].startswith("ConnectionError") for letter in letters)
