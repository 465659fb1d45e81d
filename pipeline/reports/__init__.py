"""Case reports: the search-term report and the custodian report, rendered by render.py.

Every figure is counted by Elasticsearch (counts and aggregations); no report fetches all
documents. Each report records what makes it reproducible: the index behind the case alias and
its document count at the time, the time (UTC) and the Trawl version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from pipeline import __version__
from pipeline.config import ElasticsearchConfig
from pipeline.index.indices import resolve_case
from pipeline.search import EXCEPTION_TYPE


@dataclass(frozen=True)
class Provenance:
    case: str
    alias: str
    indices: tuple[str, ...]
    index_documents: int
    generated_at: str
    trawl_version: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "indices": list(self.indices)}


def provenance(client: Any, es: ElasticsearchConfig, case: str) -> Provenance:
    """Which index answered, how many documents it held, when, and with which Trawl."""
    alias = resolve_case(client, es, case)
    indices = tuple(sorted(client.indices.get_alias(name=alias)))
    documents = client.count(index=alias)["count"]
    return Provenance(case=case, alias=alias, indices=indices, index_documents=documents,
                      generated_at=utc_now(), trawl_version=__version__)


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def scope_filter(include_duplicates: bool = False) -> dict[str, Any]:
    """What search counts by default: no exception records and, unless asked, no duplicates."""
    bool_query: dict[str, Any] = {"must_not": [{"term": {"type": EXCEPTION_TYPE}}]}
    if not include_duplicates:
        bool_query["filter"] = [{"term": {"is_duplicate": False}}]
    return {"bool": bool_query}


def scope_description(include_duplicates: bool) -> str:
    copies = "every copy, duplicates included" if include_duplicates else \
        "unique items (is_duplicate = false)"
    return f"{copies}; exception records excluded"
