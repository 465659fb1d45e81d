"""Apple Mail .emlx: a byte count line, that many bytes of RFC 822, then an XML property list."""

from __future__ import annotations

import re
from typing import Iterator

from pipeline.mail import Origin, ParseContext, email_items, exception_item
from pipeline.records import Item
from pipeline.sources.base import WholeFileReader

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
            yield exception_item(origin, None, "parse emlx", "corrupt",
                                 "no byte count on the first line")
            return
        length = int(match.group(1))
        message = data[match.end():match.end() + length]
        items = email_items(message, origin, ctx)
        yield from items
        if len(message) < length:
            yield exception_item(origin, items[0].id, "parse emlx", "truncated",
                                 f"the file holds {len(message)} of the {length} bytes it "
                                 f"announces")
