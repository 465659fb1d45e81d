"""Helpers shared by the test tiers (importable because tests/ is on sys.path under pytest)."""

from __future__ import annotations

import json
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


def write_bulk_files(docs, out_dir: Path, chunk_bytes: int = 16 * 1024 * 1024) -> list[Path]:
    """Hand-made `_bulk` bodies of about `chunk_bytes` for (id, document) pairs, for the ceiling's
    tests: documents Trawl's own schema could never hold included."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bodies: list[bytes] = []
    for doc_id, document in docs:
        lines = (json.dumps({"index": {"_id": doc_id}}) + "\n" + json.dumps(document) + "\n").encode()
        if not bodies or len(bodies[-1]) + len(lines) > chunk_bytes:
            bodies.append(b"")
        bodies[-1] += lines
    paths = [out_dir / f"{number:06d}.ndjson" for number in range(len(bodies))]
    for path, body in zip(paths, bodies):
        path.write_bytes(body)
    return paths
