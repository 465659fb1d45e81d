"""The custodian report, and the who-emailed-whom matrix the notebooks chart.

A custodian's items are the copies found in their sources (`custodian`, as in `trawl stats`).
How each figure is counted (all by Elasticsearch; no document is fetched):

- items and unique items: taken from pipeline.stats.case_stats, so they equal `trawl stats`;
  duplicates = items - unique. Exception records are not items; they are counted apart;
- items by type, first and last date, undated items and items per month: one terms
  aggregation on custodian.keyword with sub-aggregations (terms on type, min/max/missing on
  date, a monthly date_histogram with empty months kept so gaps show);
- top correspondents: terms aggregations on from_address and recipient_addresses over the
  custodian's items (the top CANDIDATE_ADDRESSES of each), merged, the custodian's own
  addresses dropped when given, and the ten with the most items kept. Exact whenever a
  custodian has no more than CANDIDATE_ADDRESSES distinct addresses on either side;
- threads: distinct thread_id values, counted exactly by paging a composite aggregation on
  (custodian, thread_id) rather than with the approximate cardinality aggregation;
- linked case records: items of type record whose `custodians` include the custodian, listed
  by record_id through a composite aggregation on (custodians, record_id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from pipeline.config import ElasticsearchConfig
from pipeline.errors import ReportError
from pipeline.reports import Provenance, provenance
from pipeline.search import EXCEPTION_TYPE
from pipeline.stats import case_stats

HOLDER = "custodian.keyword"
RECORD_TYPE = "record"
MAX_CUSTODIANS = 10000
TOP_CORRESPONDENTS = 10
CANDIDATE_ADDRESSES = 100
COMPOSITE_PAGE_SIZE = 10000
ITEMS = {"bool": {"must_not": [{"term": {"type": EXCEPTION_TYPE}}]}}
UNIQUE = {"filter": {"term": {"is_duplicate": False}}}
METHOD = {
    "items": "case_stats (the figures of `trawl stats`): every copy in the custodian's "
             "sources, exception records excluded; unique = is_duplicate false",
    "by_type": "terms aggregation on type",
    "dates": "min and max of date; undated = items with no date",
    "months": "date_histogram on date by calendar month, every copy counted",
    "correspondents": f"top {CANDIDATE_ADDRESSES} of from_address and of recipient_addresses, "
                      f"merged, own addresses dropped, top {TOP_CORRESPONDENTS} kept",
    "threads": "distinct thread_id, counted exactly with a composite aggregation",
    "exceptions": "items of type exception from the custodian's sources",
    "records": "items of type record whose custodians include the custodian",
}


@dataclass(frozen=True)
class Correspondent:
    address: str
    as_sender: int
    as_recipient: int

    @property
    def items(self) -> int:
        return self.as_sender + self.as_recipient

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "as_sender": self.as_sender,
                "as_recipient": self.as_recipient, "items": self.items}


@dataclass(frozen=True)
class CustodianFigures:
    custodian: str
    items: int
    unique: int
    by_type: dict[str, dict[str, int]]
    first_date: str | None
    last_date: str | None
    undated: int
    months: tuple[tuple[str, int], ...]
    correspondents: tuple[Correspondent, ...]
    threads: int
    exceptions: int
    records: tuple[str, ...]
    records_count: int

    @property
    def duplicates(self) -> int:
        return self.items - self.unique

    def to_dict(self) -> dict[str, Any]:
        return {"custodian": self.custodian, "items": self.items, "unique": self.unique,
                "duplicates": self.duplicates, "by_type": self.by_type,
                "first_date": self.first_date, "last_date": self.last_date,
                "undated": self.undated,
                "months": [{"month": month, "items": count} for month, count in self.months],
                "correspondents": [c.to_dict() for c in self.correspondents],
                "threads": self.threads, "exceptions": self.exceptions,
                "records": {"count": self.records_count, "record_ids": list(self.records)}}


@dataclass(frozen=True)
class CustodianReport:
    provenance: Provenance
    stats: dict[str, Any]
    custodians: tuple[CustodianFigures, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"report": "custodians", **self.provenance.to_dict(), "method": METHOD,
                "stats": self.stats,
                "custodians": [figures.to_dict() for figures in self.custodians]}


def custodian_report(client: Any, es: ElasticsearchConfig, case: str,
                     custodian: str | None = None, *,
                     own_addresses: Mapping[str, Sequence[str]] | None = None,
                     page_size: int = COMPOSITE_PAGE_SIZE) -> CustodianReport:
    """Per custodian: items by type, unique and duplicates, dates, volume per month, top
    correspondents, threads, exceptions and linked case records; one custodian or all."""
    source = provenance(client, es, case)
    stats = case_stats(client, es, case)
    names = select_custodians(known_custodians(client, source.alias), custodian, case)
    holdings = _holdings(client, source.alias, names)
    threads = _thread_counts(client, source.alias, names, page_size)
    records = _linked_records(client, source.alias, names, page_size)
    own = {name.lower(): {a.lower() for a in addresses}
           for name, addresses in (own_addresses or {}).items()}
    figures = tuple(
        _figures(name, stats["by_custodian"].get(name, {"total": 0, "unique": 0}),
                 holdings.get(name), threads.get(name, 0), records.get(name, ([], 0)),
                 own.get(name.lower(), set()))
        for name in names)
    return CustodianReport(provenance=source, stats=stats, custodians=figures)


def known_custodians(client: Any, alias: str) -> list[str]:
    """Everyone who holds items (exceptions included) or is linked to a case record."""
    response = client.search(index=alias, size=0, aggs={
        "holders": {"terms": {"field": HOLDER, "size": MAX_CUSTODIANS}},
        "records": {"filter": {"term": {"type": RECORD_TYPE}},
                    "aggs": {"linked": {"terms": {"field": "custodians",
                                                  "size": MAX_CUSTODIANS}}}}})
    aggregations = response["aggregations"]
    names = {b["key"] for b in aggregations["holders"]["buckets"]}
    names |= {b["key"] for b in aggregations["records"]["linked"]["buckets"]}
    return sorted(names)


def select_custodians(known: list[str], wanted: str | None, case: str) -> list[str]:
    if wanted is None:
        return known
    matches = [name for name in known if name.casefold() == wanted.casefold()]
    if not matches:
        listed = ", ".join(known) if known else "none"
        raise ReportError(f"no custodian '{wanted}' in case '{case}'. Custodians: {listed}.")
    return matches


def _holder_filter(names: list[str]) -> dict[str, Any]:
    return {"terms": {HOLDER: names}}


def _holdings(client: Any, alias: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """One request: each custodian's bucket with every per-item figure as a sub-aggregation."""
    address_terms = {"size": CANDIDATE_ADDRESSES, "order": [{"_count": "desc"}, {"_key": "asc"}]}
    response = client.search(index=alias, size=0, query=_holder_filter(names), aggs={
        "custodians": {"terms": {"field": HOLDER, "size": MAX_CUSTODIANS}, "aggs": {
            "exceptions": {"filter": {"term": {"type": EXCEPTION_TYPE}}},
            "items": {"filter": ITEMS, "aggs": {
                "by_type": {"terms": {"field": "type", "size": 100}, "aggs": {"unique": UNIQUE}},
                "first": {"min": {"field": "date"}},
                "last": {"max": {"field": "date"}},
                "undated": {"missing": {"field": "date"}},
                "months": {"date_histogram": {"field": "date", "calendar_interval": "month",
                                              "format": "yyyy-MM", "min_doc_count": 0}},
                "senders": {"terms": {"field": "from_address", **address_terms}},
                "recipients": {"terms": {"field": "recipient_addresses", **address_terms}},
            }}}}})
    return {bucket["key"]: bucket for bucket in response["aggregations"]["custodians"]["buckets"]}


def _composite_buckets(client: Any, alias: str, query: dict[str, Any],
                       sources: list[dict[str, Any]], page_size: int) -> Iterator[dict]:
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": page_size, "sources": sources}
        if after:
            composite["after"] = after
        response = client.search(index=alias, size=0, query=query,
                                 aggs={"pairs": {"composite": composite}})
        aggregation = response["aggregations"]["pairs"]
        yield from aggregation["buckets"]
        after = aggregation.get("after_key")
        if not aggregation["buckets"] or not after:
            return


def _thread_counts(client: Any, alias: str, names: list[str], page_size: int) -> dict[str, int]:
    query = {"bool": {"filter": [_holder_filter(names), ITEMS,
                                 {"exists": {"field": "thread_id"}}]}}
    sources = [{"custodian": {"terms": {"field": HOLDER}}},
               {"thread": {"terms": {"field": "thread_id"}}}]
    counts: dict[str, int] = {}
    for bucket in _composite_buckets(client, alias, query, sources, page_size):
        name = bucket["key"]["custodian"]
        counts[name] = counts.get(name, 0) + 1
    return counts


def _linked_records(client: Any, alias: str, names: list[str],
                    page_size: int) -> dict[str, tuple[list[str], int]]:
    query = {"bool": {"filter": [{"term": {"type": RECORD_TYPE}},
                                 {"terms": {"custodians": names}}]}}
    sources = [{"custodian": {"terms": {"field": "custodians"}}},
               {"record": {"terms": {"field": "record_id", "missing_bucket": True}}}]
    linked: dict[str, tuple[list[str], int]] = {}
    for bucket in _composite_buckets(client, alias, query, sources, page_size):
        name, record = bucket["key"]["custodian"], bucket["key"]["record"]
        if name not in names:
            continue  # a record linked to this custodian and to others
        ids, count = linked.get(name, ([], 0))
        linked[name] = (ids + ([record] if record else []), count + bucket["doc_count"])
    return linked


def _figures(name: str, totals: dict[str, int], holding: dict[str, Any] | None,
             threads: int, records: tuple[list[str], int], own: set[str]) -> CustodianFigures:
    items = holding["items"] if holding else None
    ids, count = records
    return CustodianFigures(
        custodian=name, items=totals["total"], unique=totals["unique"],
        by_type={b["key"]: {"total": b["doc_count"], "unique": b["unique"]["doc_count"]}
                 for b in items["by_type"]["buckets"]} if items else {},
        first_date=items["first"].get("value_as_string") if items else None,
        last_date=items["last"].get("value_as_string") if items else None,
        undated=items["undated"]["doc_count"] if items else 0,
        months=tuple((b["key_as_string"], b["doc_count"]) for b in items["months"]["buckets"])
        if items else (),
        correspondents=top_correspondents(items, own) if items else (),
        threads=threads, exceptions=holding["exceptions"]["doc_count"] if holding else 0,
        records=tuple(sorted(ids)), records_count=count)


def top_correspondents(items: dict[str, Any], own: set[str],
                       top: int = TOP_CORRESPONDENTS) -> tuple[Correspondent, ...]:
    sent = {b["key"]: b["doc_count"] for b in items["senders"]["buckets"]}
    received = {b["key"]: b["doc_count"] for b in items["recipients"]["buckets"]}
    merged = [Correspondent(address, sent.get(address, 0), received.get(address, 0))
              for address in set(sent) | set(received) if address.lower() not in own]
    merged.sort(key=lambda c: (-c.items, c.address))
    return tuple(merged[:top])


# --- who emailed whom -------------------------------------------------------------------------

@dataclass(frozen=True)
class CommunicationMatrix:
    senders: tuple[str, ...]
    recipients: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]  # counts[i][j]: emails from senders[i] to recipients[j]

    def to_dict(self) -> dict[str, Any]:
        return {"senders": list(self.senders), "recipients": list(self.recipients),
                "counts": [list(row) for row in self.counts]}


def communication_matrix(client: Any, es: ElasticsearchConfig, case: str, top: int = 15,
                         include_duplicates: bool = False) -> CommunicationMatrix:
    """Emails from the `top` senders to the `top` recipients (unique emails by default)."""
    from pipeline.index.indices import resolve_case

    alias = resolve_case(client, es, case)
    emails: list[dict[str, Any]] = [{"term": {"type": "email"}}]
    if not include_duplicates:
        emails.append({"term": {"is_duplicate": False}})
    query = {"bool": {"filter": emails}}
    recipients = [b["key"] for b in client.search(index=alias, size=0, query=query, aggs={
        "to": {"terms": {"field": "recipient_addresses", "size": top}}})[
        "aggregations"]["to"]["buckets"]]
    response = client.search(index=alias, size=0, query=query, aggs={
        "from": {"terms": {"field": "from_address", "size": top}, "aggs": {
            "to": {"terms": {"field": "recipient_addresses", "size": max(len(recipients), 1),
                             "include": recipients or [""]}}}}})
    senders, rows = [], []
    for bucket in response["aggregations"]["from"]["buckets"]:
        counts = {b["key"]: b["doc_count"] for b in bucket["to"]["buckets"]}
        senders.append(bucket["key"])
        rows.append(tuple(counts.get(address, 0) for address in recipients))
    return CommunicationMatrix(tuple(senders), tuple(recipients), tuple(rows))
