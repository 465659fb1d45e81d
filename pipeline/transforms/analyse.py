"""The analysis stage between reading and indexing: hashes -> dedupe -> threads ->
near-duplicates, each a pure DataFrame-to-DataFrame step over the item schema.

Each step reads the one before it several times (joins back onto its own input), so the
intermediate results are checkpointed locally: the Python UDFs and the joins run once per step
rather than once per reader. Nothing is collected to the driver.
"""

from __future__ import annotations

from typing import Any

from pipeline.config import AnalysisConfig
from pipeline.schema import field_names
from pipeline.transforms.dedupe import deduplicate
from pipeline.transforms.hashes import add_hashes
from pipeline.transforms.near_duplicates import group_near_duplicates
from pipeline.transforms.threads import thread_emails


def analyse(items: Any, dedup_mode: str, analysis: AnalysisConfig) -> Any:
    """items (as read) -> items with every dedup, thread and near-duplicate field set, with
    exactly the item schema's columns in its order."""
    hashed = add_hashes(items).localCheckpoint()
    deduplicated = deduplicate(hashed, dedup_mode).localCheckpoint()
    threaded = thread_emails(deduplicated).localCheckpoint()
    return group_near_duplicates(threaded, analysis).select(*field_names())
