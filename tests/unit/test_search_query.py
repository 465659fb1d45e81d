from datetime import date

from pipeline.search import SearchRequest, build_query, explain_query_error


def test_default_query_excludes_exception_records_and_searches_all_text_fields():
    query = build_query(SearchRequest(case="c", query="money"))["bool"]
    match = query["must"][0]["multi_match"]
    assert match["query"] == "money"
    assert {"subject^3", "body", "from", "to", "custodian", "people"} <= set(match["fields"])
    assert query["must_not"] == [{"term": {"type": "exception"}}]


def test_filters_for_custodians_dates_and_types():
    query = build_query(SearchRequest(case="c", query="*", custodians=("Jane Smith", "Bob"),
                                      date_from=date(2002, 1, 1), date_to=date(2002, 1, 31),
                                      types=("exception",)))["bool"]
    custodian_filter, date_filter, type_filter, unique_filter = query["filter"]
    names = [c["term"]["custodians"]["value"] for c in custodian_filter["bool"]["should"]]
    assert names == ["Jane Smith", "Bob"]
    assert date_filter == {"range": {"date": {"gte": "2002-01-01", "lt": "2002-02-01"}}}
    assert type_filter == {"terms": {"type": ["exception"]}}
    assert unique_filter == {"term": {"is_duplicate": False}}
    assert query["must_not"] == []


def test_duplicates_shows_every_copy_and_filters_on_the_copy_holder():
    query = build_query(SearchRequest(case="c", query="*", custodians=("Bob",),
                                      duplicates=True))["bool"]
    (custodian_filter,) = query["filter"]
    assert custodian_filter["bool"]["should"] == [
        {"term": {"custodian.keyword": {"value": "Bob", "case_insensitive": True}}}]


def test_query_error_points_at_the_parse_problem():
    body = {"error": {"root_cause": [{"type": "query_shard_exception",
                                      "reason": "Failed to parse query [money AND]"}],
                      "caused_by": {"type": "parse_exception",
                                    "reason": "Cannot parse 'money AND': Encountered \"<EOF>\" "
                                              "at line 1, column 9."}}}
    message = explain_query_error("money AND", body)
    assert message.startswith("cannot parse the query 'money AND'")
    assert "line 1, column 9" in message
