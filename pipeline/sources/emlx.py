"""Apple Mail .emlx: a byte count line, that many bytes of RFC 822, then an XML property list."""

from __future__ import annotations

import os
import re
from typing import Iterator

from pipeline.mail import Origin, ParseContext, email_items, exception_item
from pipeline.records import Item
from pipeline.sources.base import WholeFileReader, open_window

LENGTH_LINE = re.compile(rb"^\s*(\d+)\s*\r?\n")


class EmlxReader(WholeFileReader):
    name = "emlx"
    extensions = (".emlx", ".partial.emlx")

    def score(self, head: bytes, path: str) -> int:
        if LENGTH_LINE.match(head):
            return 85 if path.lower().endswith(".emlx") else 20
        return 0

    def items_from_bytes(self, data: bytes, file_name: str, origin: Origin,
                         ctx: ParseContext) -> Iterator[Item]:
        match = LENGTH_LINE.match(data)
        if not match:
            yield _no_byte_count(origin)
            return
        length = int(match.group(1))
        message = data[match.end():match.end() + length]
        items = email_items(message, origin, ctx)
        yield from items
        if len(message) < length:
            yield _truncated(origin, items[0].id, len(message), length)

    def streamed_items(self, path: str, file_name: str, origin: Origin,
                       ctx: ParseContext) -> Iterator[Item]:
        """The message of an .emlx too large to hold: a window on the file, read as a stream."""
        from pipeline.families import streamed_blob_items

        with open(path, "rb") as handle:
            match = LENGTH_LINE.match(handle.readline(64))
        if not match:
            yield _no_byte_count(origin)
            return
        announced = int(match.group(1))
        held = min(announced, max(os.path.getsize(path) - match.end(), 0))
        items = streamed_blob_items(lambda: open_window(path, match.end(), held), file_name,
                                    "message/rfc822", origin, ctx, None, "", random_access=True)
        yield from items
        if held < announced:
            yield _truncated(origin, items[0].id, held, announced)


def _no_byte_count(origin: Origin) -> Item:
    return exception_item(origin, None, "parse emlx", "corrupt", "no byte count on the first line")


def _truncated(origin: Origin, item_id: str, held: int, announced: int) -> Item:
    return exception_item(origin, item_id, "parse emlx", "truncated",
                          f"the file holds {held} of the {announced} bytes it announces")
