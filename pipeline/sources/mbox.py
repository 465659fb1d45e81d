"""MBOX files, read in parallel byte ranges.

A large mbox is cut into ranges of about `spark.split_bytes`. Each task owns the messages whose
"From " separator line starts inside its range, reading past the range's end to finish its last
message, the way Hadoop reads split text files. A separator is a line starting with "From " at
the start of the file or after a blank line. Lines quoted as ">From " (mboxrd) are unquoted.
A message larger than `ingest.max_attachment_bytes` is spilled to a temporary file as it is
read, and read from there as a stream (`families.streamed_blob_items`).
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from pipeline.families import streamed_blob_items
from pipeline.mail import ParseContext, email_items, exception_item
from pipeline.records import Item, SourceFile, WorkUnit
from pipeline.sources.base import SourceReader

SEPARATOR = b"From "
QUOTED_FROM = re.compile(rb"^>(>*From )")
BLANK_LINES = (b"\n", b"\r\n")
LINE_LIMIT = 1 << 16
# The most of a line's start that is read at once, however small LINE_LIMIT is.
LINE_HEAD = 1024


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


class _Spill:
    """A message's bytes in a temporary file, once they pass `spill_over`: a message of any size
    then costs at most a line of memory. Its last line is held back, because a blank one before
    the next separator belongs to the mbox."""

    def __init__(self, lines: list[bytes]) -> None:
        self._file = tempfile.NamedTemporaryFile(prefix="trawl-mbox-", delete=False)
        self._file.writelines(lines[:-1])
        self._held = lines[-1]

    def add(self, piece: bytes) -> None:
        self._file.write(self._held)
        self._held = piece

    def finish(self, drop_last: bool) -> Path:
        if not drop_last:
            self._file.write(self._held)
        self._file.close()
        return Path(self._file.name)


def iter_messages(handle: BinaryIO, start: int, end: int | None,
                  spill_over: int | None = None) -> Iterator[tuple[int, bytes | Path]]:
    """(offset of the separator line, message) for each message starting in [start, end). A
    message is its bytes, or, past `spill_over` bytes, a temporary file holding them, removed
    when the next message is asked for. Lines are read in pieces of at most LINE_LIMIT bytes
    (but at least LINE_HEAD of a line's start)."""
    if start == 0:
        offset = 0
        previous_blank = True
        handle.seek(0)
    else:
        handle.seek(start - 1)
        offset = start - 1 + len(handle.readline())
        previous_blank = _blank_line_ends_at(handle, offset)
        handle.seek(offset)
    limit = spill_over if spill_over is not None else -1
    current_offset: int | None = None
    lines: list[bytes] = []
    size, spill, last_blank = 0, None, False
    at_line_start, in_separator = True, False
    for piece in iter(functools.partial(handle.readline, LINE_LIMIT), b""):
        if at_line_start and piece[-1:] != b"\n" and len(piece) < LINE_HEAD:
            # A line's first piece is long enough to tell a separator or a quoted "From ".
            piece += handle.readline(LINE_HEAD - len(piece))
        starts_line, at_line_start = at_line_start, piece[-1:] == b"\n"
        read = len(piece)
        if starts_line and previous_blank and piece.startswith(SEPARATOR):
            if current_offset is not None:
                yield from _delivered(current_offset, _finish(lines, spill, last_blank))
            if end is not None and offset >= end:
                return
            current_offset, lines, size, spill = offset, [], 0, None
            in_separator = not at_line_start
        elif in_separator:   # the rest of a long separator line
            in_separator = not at_line_start
        elif current_offset is not None:
            if starts_line and piece[:1] == b">":
                piece = QUOTED_FROM.sub(rb"\1", piece)
            if spill is None:
                lines.append(piece)
                size += len(piece)
                if size > limit >= 0:
                    spill = _Spill(lines)
                    lines = []
            else:
                spill.add(piece)
            last_blank = starts_line and piece in BLANK_LINES
        if starts_line:
            previous_blank = piece in BLANK_LINES
        offset += read
    if current_offset is not None:
        yield from _delivered(current_offset, _finish(lines, spill, last_blank))


def _finish(lines: list[bytes], spill: _Spill | None, last_blank: bool) -> bytes | Path:
    if spill is not None:
        return spill.finish(drop_last=last_blank)
    return b"".join(lines[:-1] if last_blank else lines)


def _delivered(offset: int, message: bytes | Path) -> Iterator[tuple[int, bytes | Path]]:
    try:
        yield offset, message
    finally:
        if isinstance(message, Path):
            message.unlink(missing_ok=True)


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
                for offset, message in iter_messages(handle, unit.start, unit.end,
                                                     ctx.ingest.max_attachment_bytes):
                    origin = self.origin(unit, f"offset {offset}")
                    if isinstance(message, bytes):
                        yield from email_items(message, origin, ctx)
                    else:   # over the cap: read from its file, never held whole
                        yield from streamed_blob_items(
                            lambda path=message: path.open("rb"), None, "message/rfc822",
                            origin, ctx, None, "", random_access=True)
        except OSError as exc:
            yield exception_item(self.origin(unit, f"offset {unit.start}"), None, "read file",
                                 "unreadable", str(exc))
