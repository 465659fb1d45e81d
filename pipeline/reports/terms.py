"""The search-term report: for each term, how many documents it hits, alone and with families.

How each figure is counted (all by Elasticsearch; no document is fetched):

- scope: every figure counts what search shows by default: no exception records and, unless
  `include_duplicates`, only unique items (is_duplicate = false);
- hits: a count of the term's query within the scope, with a `terms` aggregation on
  `custodians` for the per-custodian breakdown (an item held by two custodians counts for each);
- unique hits: documents the term hits and no other term in the list does: the term's query
  with every other term's query as `must_not`;
- family hits: the hit documents together with every item sharing a family_id with one of
  them. A composite aggregation on family_id walks the hits' families page by page; for each
  page one count (with the per-custodian aggregation) finds the items of those families within
  the scope. The pages partition the families, so their counts add up without overlap; hits
  that have no family_id count as families of one. This scales with the number of families,
  not documents, and never needs all the ids at once;
- totals: the same figures for "any term in the list" (one OR of every term's query); its
  unique hits are the documents hit by exactly one term, the sum of the terms' unique hits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from pipeline.config import ElasticsearchConfig
from pipeline.errors import QuerySyntaxError, ReportError
from pipeline.query import compile_query
from pipeline.reports import Provenance, provenance, scope_description, scope_filter
from pipeline.search import SEARCH_FIELDS, explain_query_error

CUSTODIAN_FIELD = "custodians"
MAX_CUSTODIANS = 10000  # as in case_stats: a case has far fewer custodians than this
FAMILY_PAGE_SIZE = 1000
ANY_TERM = "(any term)"
METHOD = {
    "hits": "count of the term's query within the scope",
    "unique_hits": "count of the term's query with every other term's query excluded",
    "family_hits": "items within the scope sharing a family_id with a hit (hits without a "
                   "family_id count alone); families paged with a composite aggregation",
    "by_custodian": "terms aggregation on 'custodians'; an item held by several custodians "
                    "counts for each",
    "totals": "the OR of every term's query; its unique hits are the documents hit by exactly "
              "one term",
}


@dataclass(frozen=True)
class Counts:
    hits: int = 0
    unique_hits: int = 0
    family_hits: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "unique_hits": self.unique_hits,
                "family_hits": self.family_hits}


@dataclass(frozen=True)
class TermRow:
    term: str
    query: dict[str, Any]  # the exact Elasticsearch query whose count is `hits`
    counts: Counts
    by_custodian: dict[str, Counts]

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, **self.counts.to_dict(),
                "by_custodian": {name: c.to_dict() for name, c in self.by_custodian.items()},
                "query": self.query}


@dataclass(frozen=True)
class TermReport:
    provenance: Provenance
    scope: str
    include_duplicates: bool
    default_fields: tuple[str, ...]
    rows: tuple[TermRow, ...]
    totals: TermRow
    custodians: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"report": "search terms", **self.provenance.to_dict(), "scope": self.scope,
                "include_duplicates": self.include_duplicates,
                "default_fields": list(self.default_fields), "method": METHOD,
                "custodians": list(self.custodians),
                "terms": [row.to_dict() for row in self.rows],
                "totals": self.totals.to_dict()}


# --- the terms file ---------------------------------------------------------------------------

def parse_terms(lines: Iterable[str], source: str = "terms") -> list[str]:
    """One term per line; blank lines and lines starting with # are skipped. Each term is
    checked here, so a typo is reported with its line before any query runs."""
    terms = []
    for number, line in enumerate(lines, start=1):
        term = line.strip()
        if not term or term.startswith("#"):
            continue
        try:
            compile_query(term, SEARCH_FIELDS)
        except QuerySyntaxError as exc:
            raise QuerySyntaxError(f"{source}, line {number}: {exc}") from exc
        terms.append(term)
    return terms


def load_terms(path: str | os.PathLike[str]) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read the terms file {path}: {exc}") from exc
    return parse_terms(text.splitlines(), str(path))


# --- the report -------------------------------------------------------------------------------

def term_report(client: Any, es: ElasticsearchConfig, case: str, terms: Sequence[str], *,
                include_duplicates: bool = False,
                default_fields: Sequence[str] = SEARCH_FIELDS,
                family_page_size: int = FAMILY_PAGE_SIZE) -> TermReport:
    """Hits, unique hits and family hits per term and custodian, plus a totals row."""
    if not terms:
        raise ReportError("the terms list is empty")
    source = provenance(client, es, case)
    queries = [_compile(term, number, default_fields) for number, term in enumerate(terms, 1)]
    scope = scope_filter(include_duplicates)
    counter = Counter(client, source.alias, scope, family_page_size)
    rows = tuple(counter.row(term, queries[i], queries[:i] + queries[i + 1:])
                 for i, term in enumerate(terms))
    totals = counter.totals(queries, rows)
    custodians = tuple(sorted({name for row in rows + (totals,) for name in row.by_custodian}))
    return TermReport(provenance=source, scope=scope_description(include_duplicates),
                      include_duplicates=include_duplicates,
                      default_fields=tuple(default_fields), rows=rows, totals=totals,
                      custodians=custodians)


def _compile(term: str, number: int, default_fields: Sequence[str]) -> dict[str, Any]:
    try:
        return compile_query(term, default_fields)
    except QuerySyntaxError as exc:
        raise QuerySyntaxError(f"term {number} ({term!r}): {exc}") from exc


@dataclass(frozen=True)
class Figures:
    """A count and its per-custodian breakdown."""
    total: int
    by_custodian: dict[str, int]

    def __add__(self, other: "Figures") -> "Figures":
        merged = dict(self.by_custodian)
        for name, count in other.by_custodian.items():
            merged[name] = merged.get(name, 0) + count
        return Figures(self.total + other.total, merged)


NOTHING = Figures(0, {})
CUSTODIAN_AGG = {"terms": {"field": CUSTODIAN_FIELD, "size": MAX_CUSTODIANS}}
NO_FAMILY = {"bool": {"must_not": [{"exists": {"field": "family_id"}}]}}


class Counter:
    """Counts within one scope of one index, each figure with its per-custodian breakdown."""

    def __init__(self, client: Any, alias: str, scope: dict[str, Any], family_page_size: int):
        self.client, self.alias, self.scope = client, alias, scope
        self.family_page_size = family_page_size

    def scoped(self, must: dict[str, Any], must_not: Sequence[dict[str, Any]] = ()) -> dict:
        return {"bool": {"must": [must], "filter": [self.scope], "must_not": list(must_not)}}

    def row(self, term: str, query: dict[str, Any], others: list[dict[str, Any]]) -> TermRow:
        hit_query = self.scoped(query)
        hits, families = self.hits_and_families(term, hit_query)
        unique = self.figures(term, self.scoped(query, others)) if others else hits
        return TermRow(term, hit_query, _counts(hits, unique, families),
                       _by_custodian(hits, unique, families))

    def totals(self, queries: list[dict[str, Any]], rows: Sequence[TermRow]) -> TermRow:
        any_term = {"bool": {"should": queries, "minimum_should_match": 1}}
        hit_query = self.scoped(any_term)
        hits, families = self.hits_and_families(ANY_TERM, hit_query)
        unique = sum((Figures(row.counts.unique_hits,
                              {name: c.unique_hits for name, c in row.by_custodian.items()})
                      for row in rows), NOTHING)
        return TermRow(ANY_TERM, hit_query, _counts(hits, unique, families),
                       _by_custodian(hits, unique, families))

    def hits_and_families(self, term: str, hit_query: dict[str, Any]) -> tuple[Figures, Figures]:
        response = self.search(term, hit_query, aggs={
            "custodians": CUSTODIAN_AGG,
            "no_family": {"filter": NO_FAMILY, "aggs": {"custodians": CUSTODIAN_AGG}}})
        hits = _figures(response["hits"]["total"]["value"], response["aggregations"])
        families = _figures(response["aggregations"]["no_family"]["doc_count"],
                            response["aggregations"]["no_family"])
        for family_ids in self.family_id_pages(term, hit_query):
            families += self.figures(term, {"bool": {
                "filter": [self.scope, {"terms": {"family_id": family_ids}}]}})
        return hits, families

    def family_id_pages(self, term: str, hit_query: dict[str, Any]) -> Iterator[list[str]]:
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": self.family_page_size,
                                         "sources": [{"family": {"terms": {"field": "family_id"}}}]}
            if after:
                composite["after"] = after
            response = self.search(term, hit_query, aggs={"families": {"composite": composite}},
                                   track_total_hits=False)
            aggregation = response["aggregations"]["families"]
            keys = [bucket["key"]["family"] for bucket in aggregation["buckets"]]
            if not keys:
                return
            yield keys
            after = aggregation.get("after_key")
            if not after:
                return

    def figures(self, term: str, query: dict[str, Any]) -> Figures:
        response = self.search(term, query, aggs={"custodians": CUSTODIAN_AGG})
        return _figures(response["hits"]["total"]["value"], response["aggregations"])

    def search(self, term: str, query: dict[str, Any], aggs: dict[str, Any],
               track_total_hits: bool = True) -> dict[str, Any]:
        from elasticsearch import BadRequestError

        try:
            return self.client.search(index=self.alias, query=query, size=0, aggs=aggs,
                                      track_total_hits=track_total_hits)
        except BadRequestError as exc:
            raise QuerySyntaxError(explain_query_error(term, exc.body)) from exc


def _figures(total: int, aggregations: dict[str, Any]) -> Figures:
    return Figures(total, {bucket["key"]: bucket["doc_count"]
                           for bucket in aggregations["custodians"]["buckets"]})


def _counts(hits: Figures, unique: Figures, families: Figures) -> Counts:
    return Counts(hits.total, unique.total, families.total)


def _by_custodian(hits: Figures, unique: Figures, families: Figures) -> dict[str, Counts]:
    names = sorted(set(hits.by_custodian) | set(families.by_custodian))
    return {name: Counts(hits.by_custodian.get(name, 0), unique.by_custodian.get(name, 0),
                         families.by_custodian.get(name, 0)) for name in names}
