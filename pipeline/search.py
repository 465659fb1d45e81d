"""Search a case: the library under `trawl search` and the notebooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pipeline.config import ElasticsearchConfig
from pipeline.errors import QuerySyntaxError
from pipeline.index.indices import resolve_case
from pipeline.query import compile_query

# Bare words search these; `field:value` reaches any field (message_id, from, to, custodian…).
SEARCH_FIELDS = ("subject^3", "body", "from", "to", "cc", "bcc", "file_name^2",
                 "attachment_names", "custodian", "people", "outcome", "extra_fields")
HIGHLIGHT_FIELDS = ("subject", "body", "file_name")
EXCEPTION_TYPE = "exception"
# Masters only: each item once, however many custodians hold a copy (see docs/deduplication.md).
UNIQUE_ONLY = {"term": {"is_duplicate": False}}
HIT_FIELDS = ("id", "type", "custodian", "custodians", "subject", "from", "to", "date",
              "message_id", "is_duplicate", "duplicate_count", "thread_id",
              "near_duplicate_group", "file_name", "family_id", "parent_id", "level",
              "family_path")


@dataclass(frozen=True)
class SearchRequest:
    case: str
    query: str
    custodians: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    types: tuple[str, ...] = ()
    limit: int = 20
    duplicates: bool = False  # every copy, not one item per set of duplicates


@dataclass(frozen=True)
class SearchHit:
    id: str
    type: str
    custodian: str | None
    custodians: list[str]
    subject: str | None
    from_: str | None
    to: list[str]
    date: str | None
    message_id: str | None
    is_duplicate: bool = False
    duplicate_count: int = 1
    thread_id: str | None = None
    near_duplicate_group: str | None = None
    highlights: list[str] = field(default_factory=list)
    file_name: str | None = None
    family: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "custodian": self.custodian,
                "custodians": self.custodians, "subject": self.subject, "from": self.from_,
                "to": self.to, "date": self.date, "message_id": self.message_id,
                "is_duplicate": self.is_duplicate, "duplicate_count": self.duplicate_count,
                "thread_id": self.thread_id, "near_duplicate_group": self.near_duplicate_group,
                "file_name": self.file_name, "family": self.family,
                "highlights": self.highlights}


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[SearchHit]

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "hits": [hit.to_dict() for hit in self.hits]}


def build_query(request: SearchRequest) -> dict[str, Any]:
    """The Elasticsearch query for a request: the parsed query plus filters."""
    filters: list[dict[str, Any]] = []
    if request.custodians:
        # One item per set of copies: held by the custodian if any copy is theirs. Every copy:
        # the copies that custodian holds.
        holder = "custodian.keyword" if request.duplicates else "custodians"
        filters.append({"bool": {"should": [
            {"term": {holder: {"value": name, "case_insensitive": True}}}
            for name in request.custodians], "minimum_should_match": 1}})
    if request.date_from or request.date_to:
        bounds: dict[str, str] = {}
        if request.date_from:
            bounds["gte"] = request.date_from.isoformat()
        if request.date_to:
            # --to is a whole day: everything before the next midnight UTC.
            bounds["lt"] = (request.date_to + timedelta(days=1)).isoformat()
        filters.append({"range": {"date": bounds}})
    must_not: list[dict[str, Any]] = []
    if request.types:
        filters.append({"terms": {"type": list(request.types)}})
    else:
        must_not.append({"term": {"type": EXCEPTION_TYPE}})
    if not request.duplicates:
        filters.append(UNIQUE_ONLY)
    # Trawl's own syntax (pipeline.query): a query that cannot be parsed raises
    # QuerySyntaxError here, with the column and a caret line, before ES is asked anything.
    return {"bool": {"must": [compile_query(request.query, SEARCH_FIELDS)],
                     "filter": filters, "must_not": must_not}}


def _reasons(error: Any) -> list[str]:
    """Every 'reason' in an ES error body, outermost first."""
    found: list[str] = []
    if isinstance(error, dict):
        if isinstance(error.get("reason"), str):
            found.append(error["reason"])
        for value in error.values():
            found.extend(_reasons(value))
    elif isinstance(error, list):
        for value in error:
            found.extend(_reasons(value))
    return found


def explain_query_error(query: str, body: Any) -> str:
    reasons = _reasons(body)
    parse = [r for r in reasons if "Cannot parse" in r or "Encountered" in r]
    detail = (parse or reasons or ["Elasticsearch rejected it"])[-1]
    return f"cannot parse the query {query!r}: {detail}"


def _hit(raw: dict[str, Any]) -> SearchHit:
    source = raw.get("_source", {})
    highlights = [fragment for name in HIGHLIGHT_FIELDS
                  for fragment in raw.get("highlight", {}).get(name, [])]
    return SearchHit(id=source.get("id", raw["_id"]), type=source.get("type", ""),
                     custodian=source.get("custodian"), custodians=source.get("custodians", []),
                     subject=source.get("subject"), from_=source.get("from"),
                     to=source.get("to", []), date=source.get("date"),
                     message_id=source.get("message_id"),
                     is_duplicate=source.get("is_duplicate", False),
                     duplicate_count=source.get("duplicate_count", 1),
                     thread_id=source.get("thread_id"),
                     near_duplicate_group=source.get("near_duplicate_group"),
                     highlights=highlights, file_name=source.get("file_name"),
                     family=_family_position(source))


def _family_position(source: dict[str, Any]) -> dict[str, Any]:
    """Where a hit sits in its family: the top item's id, its parent, depth and path."""
    return {"id": source.get("family_id"), "parent_id": source.get("parent_id"),
            "level": source.get("level", 0), "path": source.get("family_path", "")}


def search(client: Any, es: ElasticsearchConfig, request: SearchRequest) -> SearchResult:
    from elasticsearch import BadRequestError

    alias = resolve_case(client, es, request.case)
    try:
        response = client.search(
            index=alias, query=build_query(request), size=request.limit,
            track_total_hits=True,
            sort=["_score", {"date": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
            source_includes=list(HIT_FIELDS),
            highlight={"fields": {name: {"fragment_size": 160, "number_of_fragments": 2}
                                  for name in HIGHLIGHT_FIELDS}})
    except BadRequestError as exc:
        raise QuerySyntaxError(explain_query_error(request.query, exc.body)) from exc
    return SearchResult(total=response["hits"]["total"]["value"],
                        hits=[_hit(raw) for raw in response["hits"]["hits"]])
