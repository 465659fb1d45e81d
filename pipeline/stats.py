"""Case statistics, counted by Elasticsearch from what is indexed.

`total` counts every copy; `unique` counts items that are not someone else's duplicate. Per
custodian, `total` counts the copies that custodian holds and `unique` the items for which that
custodian holds the master copy.
"""

from __future__ import annotations

from typing import Any

from pipeline.config import ElasticsearchConfig
from pipeline.index.indices import resolve_case
from pipeline.search import EXCEPTION_TYPE

ALWAYS_REPORTED_TYPES = ("email", "attachment")
UNIQUE = {"filter": {"term": {"is_duplicate": False}}}


def _total_and_unique(bucket: dict[str, Any]) -> dict[str, int]:
    return {"total": bucket["doc_count"], "unique": bucket["unique"]["doc_count"]}


def case_stats(client: Any, es: ElasticsearchConfig, case: str) -> dict[str, Any]:
    alias = resolve_case(client, es, case)
    response = client.search(
        index=alias, size=0, track_total_hits=True,
        aggs={
            "items": {"filter": {"bool": {"must_not": {"term": {"type": EXCEPTION_TYPE}}}},
                      "aggs": {
                          "unique": UNIQUE,
                          "by_type": {"terms": {"field": "type", "size": 100},
                                      "aggs": {"unique": UNIQUE}},
                          "by_custodian": {"terms": {"field": "custodian.keyword",
                                                     "size": 10000},
                                           "aggs": {"unique": UNIQUE}},
                      }},
            "exceptions": {"filter": {"term": {"type": EXCEPTION_TYPE}}},
        })
    items = response["aggregations"]["items"]
    by_type = {name: {"total": 0, "unique": 0} for name in ALWAYS_REPORTED_TYPES}
    by_type.update({bucket["key"]: _total_and_unique(bucket)
                    for bucket in items["by_type"]["buckets"]})
    by_custodian = {bucket["key"]: _total_and_unique(bucket)
                    for bucket in items["by_custodian"]["buckets"]}
    return {
        "case": case,
        "items": {"total": items["doc_count"], "unique": items["unique"]["doc_count"]},
        "by_type": by_type,
        "by_custodian": dict(sorted(by_custodian.items())),
        "exceptions": response["aggregations"]["exceptions"]["doc_count"],
    }
