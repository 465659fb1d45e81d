"""The analysis stage between reading and indexing: hashes -> dedupe -> threads ->
near-duplicates, each a pure DataFrame-to-DataFrame step. The hashes fill columns of the items;
each later step reads the items (and the decisions before it) and gives back its decisions, one
row per item it sets something on (`copy_decisions`, `thread_decisions`,
`near_duplicate_decisions`), and all of them are joined onto the items once, at the end.

Each step's result is read several times, so it is checkpointed locally: the Python UDFs and
the joins run once per step rather than once per reader. Nothing is collected to the driver.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from pipeline.config import AnalysisConfig
from pipeline.schema import field_names
from pipeline.transforms.dedupe import DECIDED_COLUMNS, copy_decisions
from pipeline.transforms.hashes import add_hashes
from pipeline.transforms.near_duplicates import NEAR_DUPLICATE_COLUMNS, near_duplicate_decisions
from pipeline.transforms.threads import THREAD_COLUMNS, thread_decisions, with_conversation_index


def _timed(step: Callable[[], Any], name: str, seconds: dict[str, float] | None) -> Any:
    started = time.monotonic()
    result = step()
    if seconds is not None:
        seconds[name] = round(time.monotonic() - started, 3)
    return result


# Columns no analysis step reads. They stay out of the steps' checkpoints, joins and shuffles,
# and are joined back once at the end: most of an item's bytes move through the analysis once.
# The headers are read once, for the conversation index, before they are set aside.
PASSENGERS = ("headers", "body_html", "to", "cc", "bcc", "date_original",
              "date_utc_offset_minutes", "date_status", "received_date", "text_source",
              "mime_type", "md5", "location", "start_date", "end_date", "due_date", "company",
              "contact_addresses", "phone_numbers", "categories", "importance", "people",
              "record_status", "outcome", "decided_date", "extra_fields", "decode_warnings",
              "exception_message")


def analyse(items: Any, dedup_mode: str, analysis: AnalysisConfig,
            seconds: dict[str, float] | None = None) -> Any:
    """items (as read) -> items with every dedup, thread and near-duplicate field set, with
    exactly the item schema's columns in its order. `seconds`, when given, receives each
    step's wall time (the checkpoints are eager, so each step runs where it is timed; the
    join of the decisions onto the items runs when the result is written, so the caller times
    that)."""
    passengers = [name for name in PASSENGERS if name in items.columns]
    narrow = with_conversation_index(items).drop(*passengers)
    # The body is the largest column the steps read, and only two read it: the email hash of
    # emails with attachments, and the near-duplicates of the masters. Each reads it from
    # `items`; it rides along with the passengers otherwise.
    hashed = _timed(lambda: add_hashes(narrow).drop("body").localCheckpoint(), "hashes",
                    seconds)
    # Each later step decides on the few columns it reads and hands back (id, what it sets);
    # the decisions meet the items in one join at the end, so the items cross one shuffle
    # instead of one per step.
    copies = _timed(lambda: copy_decisions(hashed, dedup_mode).localCheckpoint(), "dedup",
                    seconds)
    deduplicated = hashed.drop(*DECIDED_COLUMNS).join(copies, "id")
    threads = _timed(lambda: thread_decisions(deduplicated).localCheckpoint(), "threads",
                     seconds)
    near_duplicates = _timed(lambda: near_duplicate_decisions(
        deduplicated, items.select("id", "body"), analysis).localCheckpoint(),
        "near_duplicates", seconds)
    undecided = hashed.drop(*DECIDED_COLUMNS, *THREAD_COLUMNS, *NEAR_DUPLICATE_COLUMNS)
    return (undecided.join(copies, "id")
            .join(threads, "id", "left")
            .join(near_duplicates, "id", "left")
            .join(items.select("id", "body", *passengers), "id")
            .select(*field_names()))
