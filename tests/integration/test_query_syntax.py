"""Tier 3: the query syntax (pipeline.query) against a real Elasticsearch and the real mapping.

Each query must return exactly the expected crafted documents: proximity in either order and
in order, at the right distances, phrases, wildcards, fuzzy words, booleans and field searches.
"""

from __future__ import annotations

import pytest

from pipeline.query import parse, to_elasticsearch
from pipeline.search import SEARCH_FIELDS

from helpers import create_case

pytestmark = pytest.mark.integration

CASE = "test-qsyntax"
DOCS = [
    {"id": "d1", "type": "email", "body": "the bribe was paid in this case by someone"},
    {"id": "d2", "type": "email", "body": "bribe one case"},
    {"id": "d3", "type": "email", "body": "case bribe"},
    {"id": "d4", "type": "email", "subject": "Bribery allegation",
     "body": "transferred funds via allegation"},
    {"id": "d5", "type": "email", "body": "a brive payment"},
    {"id": "d6", "type": "email", "body": "payment schedule for march",
     "date": "2002-03-05T10:00:00Z"},
    {"id": "d7", "type": "email", "body": "schedule payment", "date": "2003-01-01T00:00:00Z"},
    {"id": "d8", "type": "email", "body": "hello", "from_address": "jane@enron.com",
     "custodians": ["Jane Smith"], "date": "2002-12-31T23:30:00Z"},
    {"id": "d9", "type": "exception", "body": "bribe allegation adjacent",
     "file_name": "notes.txt"},
]


@pytest.fixture(scope="module")
def index(es_client, test_config):
    name = create_case(es_client, test_config.elasticsearch, CASE, DOCS)
    yield name
    es_client.indices.delete(index=name)


@pytest.mark.parametrize("query, expected", [
    # w/N: within N positions, either order
    ("bribe w/5 case", {"d1", "d2", "d3"}),
    ("bribe w/2 case", {"d2", "d3"}),  # not d1, where they are 5 words apart
    ("bribe w/1 case", {"d3"}),
    ("bribe w/4 case", {"d2", "d3"}),
    # pre/N: the first term before the second
    ("bribe pre/2 case", {"d2"}),
    ("case pre/1 bribe", {"d3"}),
    ("bribe pre/5 case", {"d1", "d2"}),
    # proximity to a group, over every default field (d4 matches in its subject)
    ("bribe w/5 (case OR allegation)", {"d1", "d2", "d3", "d9"}),
    ("bribery w/1 allegation", {"d4"}),
    ("subject:(bribery w/1 allegation)", {"d4"}),
    ("body:(bribery w/1 allegation)", set()),
    # wildcards and fuzzy words inside proximity
    ("transf* w/3 allegation", {"d4"}),
    ("transf* w/2 allegation", set()),
    ("bribe~1 pre/1 payment", {"d5"}),
    ("br?ve w/1 payment", {"d5"}),
    ("(paid w/3 case) w/2 someone", {"d1"}),
    ("(paid w/2 case) w/2 someone", set()),
    ('"this case" w/3 someone', {"d1"}),
    # phrases
    ('"payment schedule"', {"d6"}),
    ('"payment schedule"~2', {"d6", "d7"}),
    # wildcard, fuzzy
    ("transf*", {"d4"}),
    ("br?ve", {"d5"}),
    ("bribe~1", {"d1", "d2", "d3", "d5", "d9"}),
    # boolean
    ("payment schedule", {"d6", "d7"}),
    ("payment AND NOT march", {"d5", "d7"}),
    ("(schedule OR funds) NOT march", {"d4", "d7"}),
    ("payment OR hello", {"d5", "d6", "d7", "d8"}),
    ("NOT bribe~1 NOT payment NOT schedule", {"d4", "d8"}),
    # fields
    ("subject:allegation", {"d4"}),
    ("from_address:*@ENRON.com", {"d8"}),
    ('custodians:"jane smith"', {"d8"}),
    ("date:[2002-01-01 TO 2002-12-31]", {"d6", "d8"}),
    ("date:2003", {"d7"}),
    ("date:2002-03", {"d6"}),
    ("date:>2002-06", {"d7", "d8"}),
    ("date:{2002-03-05T10:00:00Z TO *]", {"d7", "d8"}),
    ("type:exception", {"d9"}),
    ("date:*", {"d6", "d7", "d8"}),
])
def test_query_returns_exactly_the_expected_documents(es_client, index, query, expected):
    dsl = to_elasticsearch(parse(query), SEARCH_FIELDS)
    response = es_client.search(index=index, query=dsl, size=100, source=False)
    assert {hit["_id"] for hit in response["hits"]["hits"]} == expected, dsl
