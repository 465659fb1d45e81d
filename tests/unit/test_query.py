"""The query parser and its translation to Elasticsearch DSL (no server needed)."""

import pytest

from pipeline.errors import QuerySyntaxError
from pipeline.query import (And, Exists, Fuzzy, MatchAll, Not, Or, Phrase, Proximity,
                            QueryParseError, Range, Term, Wildcard, parse, period,
                            to_elasticsearch, to_text)

DEFAULTS = ["subject^3", "body", "file_name^2"]


# --- parsing ----------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("bribe", "bribe"),
    ("bribe case", "(bribe AND case)"),
    ("bribe AND case", "(bribe AND case)"),
    ("bribe and case", "(bribe AND case)"),
    ("a OR b c", "(a OR (b AND c))"),
    ("(a OR b) c", "((a OR b) AND c)"),
    ("a NOT b", "(a AND NOT b)"),
    ("NOT a", "NOT a"),
    ("a OR b OR c", "(a OR b OR c)"),
    ("a b c", "(a AND b AND c)"),
    ("bribe w/5 (case OR allegation)", "(bribe w/5 (case OR allegation))"),
    ("bribe W/5 case", "(bribe w/5 case)"),
    ("bribe pre/3 case", "(bribe pre/3 case)"),
    ("a w/2 b pre/3 c", "((a w/2 b) pre/3 c)"),
    ("NOT a w/2 b", "NOT (a w/2 b)"),
    ('"payment schedule"', '"payment schedule"'),
    ('"payment schedule"~2', '"payment schedule"~2'),
    ("transf*", "transf*"),
    ("br?be", "br?be"),
    ("bribe~1", "bribe~1"),
    ("bribe~", "bribe~2"),
    ("subject:bribe", "subject:bribe"),
    ("Subject:bribe", "subject:bribe"),
    ('subject:"bribe case"', 'subject:"bribe case"'),
    ("subject:(bribe OR case)", "(subject:bribe OR subject:case)"),
    ("date:[2002-01-01 TO 2002-12-31]", "date:[2002-01-01 TO 2002-12-31]"),
    ("date:{2002 TO *]", "date:{2002 TO *]"),
    ("date:2002", "date:[2002 TO 2002]"),
    ("date:>=2002-03", "date:[2002-03 TO *]"),
    ("size:<100", "size:[* TO 100}"),
    ("message_id:<abc@example.com>", "message_id:<abc@example.com>"),
    ("from_address:*@enron.com", "from_address:*@enron.com"),
    ("subject:*", "subject:*"),
    ("*", "*"),
    (r"a\:b", "a:b"),
    ("w/o", "w/o"),
])
def test_parses_to_the_expected_tree(query, expected):
    assert to_text(parse(query)) == expected


def test_tree_nodes_for_a_proximity_query():
    node = parse("bribe w/5 (case OR transf*)")
    assert node == Proximity(Term("bribe"), Or((Term("case"), Wildcard("transf*"))), 5, False)


def test_leaf_kinds():
    assert parse("bribe~1") == Fuzzy("bribe", None, 1)
    assert parse('"a b"~3') == Phrase("a b", None, 3)
    assert parse("*") == MatchAll()
    assert parse("thread_id:*") == Exists("thread_id")
    assert parse("is_duplicate:true") == Term("true", "is_duplicate")
    assert parse("a AND NOT b") == And((Term("a"), Not(Term("b"))))
    assert parse(r"\*literal") == Term("*literal")
    assert parse("date:2002-03") == Range("date", "2002-03", "2002-03", True, True)


def test_phrase_escapes_quotes():
    assert parse(r'"say \"hi\""') == Phrase('say "hi"')


# --- errors with positions --------------------------------------------------------------------

@pytest.mark.parametrize("query, column, words", [
    ("", 1, "empty"),
    ("(bribe OR case", 15, "expected ')' to close the '(' at column 1"),
    ("bribe)", 6, "no matching '('"),
    ("bribe AND", 10, "ends where a search term was expected"),
    ("OR bribe", 1, "OR needs a search term before it"),
    ("w/5 case", 1, "w/5 needs a search term before it"),
    ("bribe w/ case", 7, "needs a number of words"),
    ("bribe w/0 case", 7, "at least 1"),
    ('"unclosed phrase', 1, "never closed"),
    ("form:jane", 1, "unknown field 'form'. Did you mean from"),
    ("bribe~3", 6, "at most 2 edits"),
    ("date:[2002 TO]", 6, "[low TO high]"),
    ("date:[2002 TO 2003", 6, "never closed"),
    ("date:20x2", 6, "not a date"),
    ("date:2002-13", 6, "not a date"),
    ("size:big", 6, "not a number"),
    ("is_duplicate:maybe", 14, "true or false"),
    ("subject:[a TO b]", 9, "ranges work on date, number and keyword fields"),
    ("date:2002*", 6, "wildcards work on text and keyword fields"),
    ("(bribe case) w/5 money", 2, "AND cannot be an operand of w/5"),
    ("bribe w/5 NOT case", 11, "NOT cannot be used inside a proximity search"),
    ("bribe w/5 date:2002", 16, "a date or range cannot be an operand of w/5"),
    ("subject:bribe w/5 case", 15, "must search the same field"),
    ("subject:(from_address:a w/2 b)", 25, "must search the same field"),
    ("from_address:(a w/2 b)", 17, "needs a text field"),
    ("subject:", 9, "expected a value after 'subject:'"),
    ("()", 2, "empty parentheses"),
    ("trailing\\", 9, "backslash"),
])
def test_errors_point_at_the_problem(query, column, words):
    with pytest.raises(QueryParseError) as caught:
        parse(query)
    error = caught.value
    assert isinstance(error, QuerySyntaxError)
    assert error.position + 1 == column, str(error)
    assert words in error.reason
    message_lines = str(error).splitlines()
    assert message_lines[0].startswith(f"cannot parse the query at column {column}:")
    assert message_lines[1] == "  " + query
    assert message_lines[2] == "  " + " " * (column - 1) + "^"


# --- translation ------------------------------------------------------------------------------

def es(query):
    return to_elasticsearch(parse(query), DEFAULTS)


def test_bare_word_searches_every_default_field_with_boosts():
    assert es("bribe") == {"multi_match": {"query": "bribe", "fields": DEFAULTS,
                                           "operator": "and", "lenient": True}}


def test_adjacency_is_and_and_not_is_must_not():
    query = es("bribe case NOT money")["bool"]
    assert [q["multi_match"]["query"] for q in query["must"]] == ["bribe", "case"]
    assert query["must_not"][0]["multi_match"]["query"] == "money"


def test_or_is_should_with_one_required():
    query = es("bribe OR case")["bool"]
    assert query["minimum_should_match"] == 1 and len(query["should"]) == 2


def test_a_lone_not_matches_everything_else():
    assert es("NOT bribe") == {"bool": {"must": [{"match_all": {}}], "must_not": [
        es("bribe")]}}


def test_proximity_is_one_intervals_query_per_text_field_ored():
    query = es("bribe w/5 case")
    per_field = query["bool"]["should"]
    assert [next(iter(q["intervals"])) for q in per_field] == ["subject", "body", "file_name"]
    subject = per_field[0]["intervals"]["subject"]
    assert subject["boost"] == 3.0
    assert subject["all_of"] == {
        "intervals": [{"match": {"query": "bribe", "max_gaps": 0, "ordered": True}},
                      {"match": {"query": "case", "max_gaps": 0, "ordered": True}}],
        "max_gaps": 4, "ordered": False}


def test_pre_is_ordered_and_nested_operands_become_rules():
    rule = es("subject:(transf* pre/2 (bribe~1 OR \"kick back\" OR pay?ent))")
    all_of = rule["intervals"]["subject"]["all_of"]
    assert all_of["ordered"] is True and all_of["max_gaps"] == 1
    prefix, any_of = all_of["intervals"]
    assert prefix == {"prefix": {"prefix": "transf"}}
    assert any_of["any_of"]["intervals"] == [
        {"fuzzy": {"term": "bribe", "fuzziness": 1}},
        {"match": {"query": "kick back", "max_gaps": 0, "ordered": True}},
        {"wildcard": {"pattern": "pay?ent"}}]


def test_nested_proximity():
    rule = es("body:(a w/2 b pre/4 c)")["intervals"]["body"]["all_of"]
    assert rule["max_gaps"] == 3 and rule["ordered"] is True
    assert rule["intervals"][0]["all_of"]["max_gaps"] == 1


def test_phrase_wildcard_and_fuzzy_on_default_fields():
    assert es('"a b"~1')["multi_match"] | {} == {"query": "a b", "fields": DEFAULTS,
                                                 "type": "phrase", "slop": 1, "lenient": True}
    wildcard = es("Transf*")["bool"]["should"]
    assert wildcard[0] == {"wildcard": {"subject": {"value": "Transf*", "case_insensitive": True,
                                                    "boost": 3.0}}}
    assert es("bribe~1")["multi_match"]["fuzziness"] == 1


def test_field_queries_follow_the_field_type():
    assert es("subject:bribe") == {"match": {"subject": {"query": "bribe", "operator": "and"}}}
    assert es('subject:"a b"') == {"match_phrase": {"subject": {"query": "a b", "slop": 0}}}
    assert es('custodians:"Jane Smith"') == {
        "term": {"custodians": {"value": "Jane Smith", "case_insensitive": True}}}
    assert es("is_duplicate:FALSE") == {"term": {"is_duplicate": {"value": False}}}
    assert es("thread_id:*") == {"exists": {"field": "thread_id"}}
    assert es("size:[10 TO 20}") == {"range": {"size": {"gte": "10", "lt": "20"}}}
    assert es("from_address:*@enron.com") == {
        "wildcard": {"from_address": {"value": "*@enron.com", "case_insensitive": True}}}


@pytest.mark.parametrize("query, bounds", [
    ("date:[2002-01-01 TO 2002-12-31]", {"gte": "2002-01-01", "lt": "2003-01-01"}),
    ("date:2002", {"gte": "2002-01-01", "lt": "2003-01-01"}),
    ("date:2002-02", {"gte": "2002-02-01", "lt": "2002-03-01"}),
    ("date:2002-12", {"gte": "2002-12-01", "lt": "2003-01-01"}),
    ("date:{2002 TO 2004}", {"gte": "2003-01-01", "lt": "2004-01-01"}),
    ("date:>2002-06", {"gte": "2002-07-01"}),
    ("date:<=2002-06-30", {"lt": "2002-07-01"}),
    ("date:[2002-01-01T10:00:00Z TO *]", {"gte": "2002-01-01T10:00:00Z"}),
    ("date:{2002-01-01T10:00:00Z TO 2002-01-02T00:00:00Z]",
     {"gt": "2002-01-01T10:00:00Z", "lte": "2002-01-02T00:00:00Z"}),
])
def test_dates_cover_whole_periods(query, bounds):
    assert es(query) == {"range": {"date": {**bounds, "format": "strict_date_optional_time"}}}


def test_period_rejects_impossible_dates():
    assert period("2000-02-29") == ("2000-02-29", "2000-03-01")
    with pytest.raises(ValueError):
        period("2001-02-29")
