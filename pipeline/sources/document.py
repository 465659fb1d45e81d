"""Loose files that are not mailboxes: documents for Tika, and archives opened at any depth."""

from __future__ import annotations

from typing import Iterator

from pipeline.families import blob_items
from pipeline.mail import Origin, ParseContext, exception_item
from pipeline.records import Item
from pipeline.sources.base import WholeFileReader


class DocumentReader(WholeFileReader):
    """Takes any file no mailbox reader claims; the family dispatcher decides what it holds."""

    name = "document"

    def score(self, head: bytes, path: str) -> int:
        return 5

    def items_from_bytes(self, data: bytes, file_name: str, origin: Origin,
                         ctx: ParseContext) -> Iterator[Item]:
        items = blob_items(data, file_name, None, origin, ctx, None, "")
        yield from items
        if not data:
            yield exception_item(origin, items[0].id, "read file", "empty", "the file is empty",
                                 file_name)
