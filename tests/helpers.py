"""Helpers shared by the test tiers (importable because tests/ is on sys.path under pytest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


def corpus_path(*parts: str) -> Path:
    """A file in ../shared/corpus; the test is skipped, with the reason, when it is absent."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared corpus not available: {path} is missing")
    return path


def ingest_case(spark, config, manifest):
    """Run the main job and insist that it reconciled with no problems."""
    from pipeline.run import run_case

    summary = run_case(manifest, config, spark)
    assert summary.problems == [], summary.problems
    return summary


def create_case(client: Any, es: Any, case: str, docs: list[dict[str, Any]]) -> str:
    """An index with the real mapping behind the alias trawl-<case>, documents refreshed."""
    from elasticsearch.helpers import bulk

    from pipeline.index.indices import alias_name, load_mapping

    alias = alias_name(es, case)
    index = f"{alias}-items"
    if client.indices.exists(index=index):
        client.indices.delete(index=index)
    client.indices.create(index=index, mappings=load_mapping()["mappings"],
                          settings={"number_of_shards": 1, "number_of_replicas": 0})
    bulk(client, ({"_index": index, "_id": doc["id"], "_source": doc} for doc in docs),
         refresh=True)
    client.indices.put_alias(index=index, name=alias)
    return index
