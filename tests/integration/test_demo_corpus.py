"""Tier 3: the whole SpamAssassin corpus (6,046 real emails) through Spark into Elasticsearch."""

import email
import email.policy
import hashlib
import json
import re
import tarfile
from collections import defaultdict

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import MESSAGE_PATH, custodian_for
from pipeline.search import SearchRequest, search
from pipeline.stats import case_stats

from helpers import ingest_case

pytestmark = pytest.mark.integration


def corpus_messages(demo_corpus, config):
    """(folder, raw message without its envelope line) straight from the npm tarball."""
    from pipeline.demo import fetch_tarball

    with tarfile.open(fetch_tarball(config), "r:gz") as archive:
        for member in archive:
            match = MESSAGE_PATH.match(member.name)
            if match:
                raw = archive.extractfile(member).read()
                if raw.startswith(b"From "):
                    raw = raw.split(b"\n", 1)[1]
                yield match["folder"], raw


def refused_by_python(raw: bytes) -> bool:
    """The oracle: does Python's policy.default raise LookupError on this message?"""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        for part in message.walk():
            if part.get_content_maintype() == "text":
                part.get_content()
        for _, value in message.items():
            str(value)
    except LookupError:
        return True
    except Exception:
        return False
    return False


def count(client, alias, query):
    return client.count(index=alias, query=query)["count"]


def independent_copies(demo_corpus, config):
    """Groups of raw messages that are copies of one another, found without the pipeline: the
    same From, To, Cc, Subject and Date header text and the same body bytes up to whitespace.
    Each group is (folder, Message-ID) per copy. Equal raw text means an equal email hash, so
    the pipeline must find at least these copies."""
    groups = defaultdict(list)
    for folder, raw in corpus_messages(demo_corpus, config):
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        body = raw.partition(b"\n\n")[2]
        key = tuple(str(message.get(name, "")) for name in ("From", "To", "Cc", "Subject",
                                                             "Date")) + (b" ".join(body.split()),)
        groups[key].append((folder, str(message.get("Message-ID", "")).strip()))
    return [copies for copies in groups.values() if len(copies) > 1]


def cli_json(*args):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_every_message_of_the_corpus_is_indexed_per_custodian(demo_case, demo_corpus, es_client):
    manifest, summary = demo_case
    assert demo_corpus.total == 6046
    alias = summary.alias
    top_level = {"bool": {"filter": [{"term": {"type": "email"}}, {"term": {"level": 0}}]}}
    assert count(es_client, alias, top_level) == 6046
    for folder, expected in demo_corpus.truth.items():
        per_custodian = {"bool": {"filter": top_level["bool"]["filter"] + [
            {"term": {"custodian.keyword": custodian_for(folder)}}]}}
        assert count(es_client, alias, per_custodian) == expected, folder
    assert summary.indexed == summary.staged
    assert count(es_client, alias, {"match_all": {}}) == summary.staged


def test_messages_python_refuses_are_decoded_best_effort_and_flagged(
        demo_case, demo_corpus, es_client, test_config):
    _, summary = demo_case
    refused = [raw for _, raw in corpus_messages(demo_corpus, test_config)
               if refused_by_python(raw)]
    assert len(refused) >= 26
    flagged = 0
    for raw in refused:
        md5 = hashlib.md5(raw).hexdigest()
        hits = es_client.search(index=summary.alias, query={"bool": {"filter": [
            {"term": {"md5": md5}}, {"term": {"type": "email"}}]}})["hits"]["hits"]
        assert hits, f"message with md5 {md5} was not indexed"
        warnings = hits[0]["_source"].get("decode_warnings", [])
        flagged += any(re.search("charset", w) for w in warnings)
    assert flagged >= 26


def test_stats_count_every_copy_and_match_the_index(demo_case, es_client, test_config):
    _, summary = demo_case
    figures = case_stats(es_client, test_config.elasticsearch, "test-demo")
    assert set(figures) == {"case", "items", "by_type", "by_custodian", "exceptions"}
    assert figures["by_type"]["email"]["total"] == summary.items_by_type["email"]
    assert figures["by_type"]["attachment"]["total"] == summary.items_by_type.get("attachment", 0)
    assert figures["items"]["total"] == summary.staged - summary.exceptions
    not_exception = {"bool": {"must_not": {"term": {"type": "exception"}}}}
    masters = {"bool": {"filter": [{"term": {"is_duplicate": False}}],
                        "must_not": [{"term": {"type": "exception"}}]}}
    assert figures["items"]["unique"] == count(es_client, summary.alias, masters)
    assert figures["items"]["total"] == count(es_client, summary.alias, not_exception)
    assert figures["items"]["unique"] < figures["items"]["total"]  # SpamAssassin has copies
    assert figures["items"]["unique"] == summary.unique_items
    assert figures["exceptions"] == summary.exceptions
    assert sum(c["total"] for c in figures["by_custodian"].values()) == figures["items"]["total"]
    # Each unique item has exactly one master, held by exactly one custodian.
    assert sum(c["unique"] for c in figures["by_custodian"].values()) == figures["items"]["unique"]
    assert sum(t["unique"] for t in figures["by_type"].values()) == figures["items"]["unique"]
    assert set(figures["by_custodian"]) == {"Easy Ham 1", "Easy Ham 2", "Hard Ham 1", "Spam 1",
                                            "Spam 2"}


def test_cli_search_json_has_exactly_the_documented_shape(demo_case):
    result = CliRunner().invoke(main, ["search", "test-demo", "money", "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.output.strip().splitlines()[-1])
    assert set(data) == {"total", "hits"}
    assert data["total"] > 3 and len(data["hits"]) == 3
    for hit in data["hits"]:
        assert set(hit) == {"id", "type", "custodian", "custodians", "subject", "from", "to",
                            "date", "message_id", "is_duplicate", "duplicate_count", "thread_id",
                            "near_duplicate_group", "file_name", "family", "highlights"}
        assert set(hit["family"]) == {"id", "parent_id", "level", "path"}
        assert hit["is_duplicate"] is False and hit["duplicate_count"] >= 1
        assert hit["custodian"] in hit["custodians"]
        assert any("<em>" in h.lower() and "money" in h.lower() for h in hit["highlights"]) \
            or "money" in (hit["subject"] or "").lower()


def test_message_id_field_search_finds_exactly_that_message(demo_case, demo_corpus, es_client,
                                                            test_config):
    wanted = None
    for _, raw in corpus_messages(demo_corpus, test_config):
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        if message["Message-ID"] and "Hard" not in (message["Subject"] or ""):
            wanted = re.search(r"<[^<>\s]+>", str(message["Message-ID"])).group(0)
            break
    holders = sum(1 for _, raw in corpus_messages(demo_corpus, test_config)
                  if wanted.encode() in raw.split(b"\n\n", 1)[0])
    result = search(es_client, test_config.elasticsearch,
                    SearchRequest(case="test-demo", query=f'message_id:"{wanted}"', limit=50,
                                  duplicates=True))
    assert result.total >= 1
    assert result.total <= holders
    assert all(hit.message_id == wanted for hit in result.hits)


def test_field_custodian_and_date_filters_narrow_the_hits(demo_case, es_client, test_config):
    es = test_config.elasticsearch
    everything = search(es_client, es, SearchRequest(case="test-demo", query="*", limit=0)).total
    spam = search(es_client, es, SearchRequest(case="test-demo", query="*",
                                               custodians=("spam 1",), limit=100))
    assert 0 < spam.total < everything
    assert all("Spam 1" in hit.custodians for hit in spam.hits)
    from datetime import date

    august = search(es_client, es, SearchRequest(case="test-demo", query="*",
                                                 date_from=date(2002, 8, 1),
                                                 date_to=date(2002, 8, 31), limit=200))
    assert 0 < august.total < everything
    assert all("2002-08-01" <= hit.date[:10] <= "2002-08-31" for hit in august.hits)


def test_from_field_search_matches_the_sender_address(demo_case, es_client, test_config):
    _, summary = demo_case
    busiest = es_client.search(index=summary.alias, size=0,
                               query={"term": {"is_duplicate": False}},
                               aggs={"senders": {"terms": {"field": "from_address", "size": 1}}})
    bucket = busiest["aggregations"]["senders"]["buckets"][0]
    address, sent = bucket["key"], bucket["doc_count"]
    result = search(es_client, test_config.elasticsearch,
                    SearchRequest(case="test-demo", query=f"from:{address}", limit=50))
    assert result.total >= sent
    assert sum(address in (hit.from_ or "").lower() for hit in result.hits) == min(sent, 50)


def test_duplicate_copies_found_in_the_raw_corpus_are_deduplicated(demo_case, demo_corpus,
                                                                   es_client, test_config):
    _, summary = demo_case
    groups = independent_copies(demo_corpus, test_config)
    assert len(groups) >= 10
    duplicate_emails = {"bool": {"filter": [{"term": {"type": "email"}}, {"term": {"level": 0}},
                                            {"term": {"is_duplicate": True}}]}}
    # Equal raw text forces an equal email hash, so the pipeline finds at least these copies;
    # on this corpus it finds no others, so nothing is merged that should not be.
    assert count(es_client, summary.alias, duplicate_emails) \
        == sum(len(copies) - 1 for copies in groups)


def test_search_counts_unique_items_and_duplicates_counts_every_copy(demo_case, es_client,
                                                                     test_config):
    figures = case_stats(es_client, test_config.elasticsearch, "test-demo")
    assert cli_json("search", "test-demo", "*", "--json")["total"] == figures["items"]["unique"]
    assert cli_json("search", "test-demo", "*", "--json", "--duplicates")["total"] \
        == figures["items"]["total"]


def test_custodians_of_a_message_found_by_message_id_lists_every_holder(
        demo_case, demo_corpus, es_client, test_config):
    copies = max(independent_copies(demo_corpus, test_config), key=len)
    holders = sorted({custodian_for(folder) for folder, _ in copies})
    message_ids = [message_id for _, message_id in copies]
    assert all(message_ids) and len(set(message_ids)) == len(copies)
    every_copy = cli_json("search", "test-demo", f'message_id:"{message_ids[0]}"', "--json",
                          "--duplicates")
    assert every_copy["total"] == 1
    (hit,) = every_copy["hits"]
    assert hit["custodians"] == holders
    assert hit["duplicate_count"] == len(copies)
    any_copy = " OR ".join(f'message_id:"{message_id}"' for message_id in message_ids)
    unique = cli_json("search", "test-demo", any_copy, "--json")
    assert unique["total"] == 1
    (master,) = unique["hits"]
    assert master["is_duplicate"] is False
    assert (master["custodians"], master["duplicate_count"]) == (holders, len(copies))


def test_query_syntax_error_is_a_clear_message(demo_case):
    result = CliRunner().invoke(main, ["search", "test-demo", "money AND (bribe"])
    assert result.exit_code == 1
    assert "cannot parse the query" in result.output
    assert "Traceback" not in result.output


def test_unknown_case_names_the_known_ones(demo_case):
    result = CliRunner().invoke(main, ["stats", "no-such-case"])
    assert result.exit_code == 1
    assert "no case 'no-such-case'" in result.output and "test-demo" in result.output


def test_rerun_overwrites_and_leaves_identical_stats(demo_case, spark, es_client, test_config):
    manifest, first = demo_case
    before = case_stats(es_client, test_config.elasticsearch, "test-demo")
    second = ingest_case(spark, test_config, manifest)
    after = case_stats(es_client, test_config.elasticsearch, "test-demo")
    assert after == before
    assert second.index == first.index
    assert es_client.count(index=second.alias)["count"] == first.staged
