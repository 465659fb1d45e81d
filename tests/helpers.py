"""Helpers shared by the test tiers (importable because tests/ is on sys.path under pytest)."""

from __future__ import annotations

from pathlib import Path

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
