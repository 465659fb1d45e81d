"""MBOX files, read in parallel byte ranges.

A large mbox is cut into ranges of about `spark.split_bytes`. Each task owns the messages whose
"From " separator line starts inside its range, reading past the range's end to finish its last
message, the way Hadoop reads split text files. A separator is a line starting with "From " at
the start of the file or after a blank line. Lines quoted as ">From " (mboxrd) are unquoted.
"""

from __future__ import annotations

import re
from typing import BinaryIO, Iterator

from pipeline.mail import ParseContext, email_items, exception_item
from pipeline.records import Item, SourceFile, WorkUnit
from pipeline.sources.base import SourceReader

SEPARATOR = b"From "
QUOTED_FROM = re.compile(rb"^>(>*From )")


def _blank_line_ends_at(handle: BinaryIO, offset: int) -> bool:
    """True when the line just before `offset` is empty, or `offset` is the start of the file."""
    if offset == 0:
        return True
    begin = max(0, offset - 3)
    handle.seek(begin)
    tail = handle.read(offset - begin)
    if begin == 0:
        # The line before is the file's first line: empty if it is only a line ending.
        return tail in (b"\n", b"\r\n") or tail.endswith((b"\n\n", b"\n\r\n"))
    return tail.endswith((b"\n\n", b"\n\r\n"))


def _message_bytes(lines: list[bytes]) -> bytes:
    # The blank line before the next separator belongs to the mbox, not to the message.
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]
    return b"".join(QUOTED_FROM.sub(rb"\1", line) if line.startswith(b">") else line
                    for line in lines)


def iter_messages(handle: BinaryIO, start: int, end: int | None) -> Iterator[tuple[int, bytes]]:
    """(offset of the separator line, message bytes) for each message starting in [start, end)."""
    if start == 0:
        offset = 0
        previous_blank = True
        handle.seek(0)
    else:
        handle.seek(start - 1)
        offset = start - 1 + len(handle.readline())
        previous_blank = _blank_line_ends_at(handle, offset)
        handle.seek(offset)
    current_offset: int | None = None
    current: list[bytes] = []
    for line in iter(handle.readline, b""):
        if line.startswith(SEPARATOR) and previous_blank:
            if current_offset is not None:
                yield current_offset, _message_bytes(current)
            if end is not None and offset >= end:
                return
            current_offset, current = offset, []
        elif current_offset is not None:
            current.append(line)
        previous_blank = line in (b"\n", b"\r\n")
        offset += len(line)
    if current_offset is not None:
        yield current_offset, _message_bytes(current)


class MboxReader(SourceReader):
    name = "mbox"
    extensions = (".mbox", ".mbx", ".mbs")

    def score(self, head: bytes, path: str) -> int:
        if head.startswith(SEPARATOR):
            return 90
        return 0

    def plan(self, source: SourceFile, split_bytes: int) -> list[WorkUnit]:
        starts = range(0, max(source.size, 1), max(split_bytes, 1))
        return [WorkUnit(case=source.case, custodian=source.custodian,
                         custodian_id=source.custodian_id, path=source.path, format=self.name,
                         start=begin, end=begin + split_bytes if begin + split_bytes < source.size
                         else None)
                for begin in starts]

    def read(self, unit: WorkUnit, ctx: ParseContext) -> Iterator[Item]:
        try:
            with open(unit.path, "rb") as handle:
                for offset, raw in iter_messages(handle, unit.start, unit.end):
                    yield from email_items(raw, self.origin(unit, f"offset {offset}"), ctx)
        except OSError as exc:
            yield exception_item(self.origin(unit, f"offset {unit.start}"), None, "read file",
                                 "unreadable", str(exc))
