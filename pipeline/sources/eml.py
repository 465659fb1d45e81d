"""A single RFC 822 message in a file (.eml, or a message saved under another name)."""

from __future__ import annotations

import re
from typing import Iterable

from pipeline.mail import Origin, ParseContext, email_items
from pipeline.records import Item
from pipeline.sources.base import WholeFileReader

HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:[ \t]?", re.MULTILINE)
MAIL_HEADERS = (b"from:", b"to:", b"subject:", b"date:", b"message-id:", b"received:",
                b"mime-version:", b"return-path:", b"delivered-to:")
# iCalendar and vCard content lines look like headers, X- ones included, but start so.
NOT_MAIL_STARTS = (b"begin:",)


def looks_like_rfc822(head: bytes) -> bool:
    """Headers at the top of the file, at least two of them ones a mail system writes, one of
    them not an X- header: an Outlook meeting's iCalendar has dozens of X-MICROSOFT lines."""
    lines = head.lstrip(b"\r\n").split(b"\n", 40)[:40]
    if not lines or HEADER_LINE.match(lines[0]) is None or \
            lines[0].lower().startswith(NOT_MAIL_STARTS):
        return False
    headers = [line.lower() for line in lines if HEADER_LINE.match(line)]
    mail = sum(1 for line in headers if line.startswith(MAIL_HEADERS))
    extension = sum(1 for line in headers if line.startswith(b"x-"))
    return mail >= 1 and mail + extension >= 2


class EmlReader(WholeFileReader):
    name = "eml"
    extensions = (".eml", ".txt", ".msg")

    def score(self, head: bytes, path: str) -> int:
        if not looks_like_rfc822(head):
            return 0
        return 80 if path.lower().endswith(".eml") else 60

    def items_from_bytes(self, data: bytes, file_name: str, origin: Origin,
                         ctx: ParseContext) -> Iterable[Item]:
        return email_items(data, origin, ctx)
