"""MBOX files, read in parallel byte ranges.

A large mbox is cut into ranges of about `spark.split_bytes`. Each task owns the messages whose
"From " separator line starts inside its range, reading past the range's end to finish its last
message, the way Hadoop reads split text files. A separator is a line starting with "From " at
the start of the file or after a blank line. Lines quoted as ">From " (mboxrd) are unquoted.
Separators are found with bytes.find over blocks of the file, not line by line, which was a tenth
of the parse. A message larger than `ingest.max_attachment_bytes` is copied, unquoted, to a
temporary file, and read from there as a stream (`families.streamed_blob_items`).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from pipeline.families import streamed_blob_items
from pipeline.mail import ParseContext, email_items, exception_item
from pipeline.records import Item, SourceFile, WorkUnit
from pipeline.sources.base import SourceReader

SEPARATOR = b"From "
NEWLINE_SEPARATOR = b"\n" + SEPARATOR
# At the start of each line of a message; `_spilled` gives it only pieces that start a line.
QUOTED_FROM = re.compile(rb"(?m)^>(>*From )")
BLANK_LINES = (b"\n", b"\r\n")
LINE_LIMIT = 1 << 16
# The most of a line's start that is read at once, however small LINE_LIMIT is.
LINE_HEAD = 1024
# What the search for separators reads at once: large, so that bytes.find does the work.
BLOCK_BYTES = 1 << 20


def _first_line(handle: BinaryIO, start: int) -> int:
    """The offset of the first line that starts at or after `start`."""
    if start == 0:
        return 0
    handle.seek(start - 1)
    return start - 1 + len(handle.readline())


class _Window:
    """The file from some offset on, read in blocks of at least BLOCK_BYTES and searched with
    bytes.find, holding only what a search or the message being read still needs: a message of
    any size costs at most a block or two of memory once it passes what the caller holds."""

    def __init__(self, handle: BinaryIO, offset: int) -> None:
        self._handle = handle
        # The bytes before `offset` (a line start) that tell whether the line before it is
        # blank; the file's first line counts as after a blank one, made up here.
        begin = max(offset - 3, 0)
        handle.seek(begin)
        context = handle.read(offset - begin)
        self._data = (b"" if begin else b"x\n\n") + context
        self._base = begin + len(context) - len(self._data)   # the file offset of _data[0]
        self._read_at = begin + len(context)
        self.at_end = False

    @property
    def end(self) -> int:
        """The file offset just past what has been read."""
        return self._base + len(self._data)

    def _more(self, keep_from: int) -> bool:
        """Read the next block, letting go of what lies before `keep_from`."""
        if self.at_end:
            return False
        drop = min(max(keep_from - self._base, 0), len(self._data))
        kept = len(self._data) - drop
        self._handle.seek(self._read_at)   # a spilled message's reading moves the handle
        # At least as much as is kept, so that holding a large message costs each of its
        # bytes a bounded number of copies, not one per block.
        block = self._handle.read(max(BLOCK_BYTES, kept))
        if not block:
            self.at_end = True
            return False
        self._data = self._data[drop:] + block
        self._base += drop
        self._read_at += len(block)
        return True

    def line_end(self, offset: int) -> int:
        """The offset just past the line that starts at `offset` (the file's end, if it has no
        line break)."""
        scan = offset
        while (index := self._data.find(b"\n", scan - self._base)) < 0:
            scan = self.end
            if not self._more(scan - 2):    # two bytes before a line start tell if it is blank
                return self.end
        return self._base + index + 1

    def separator(self, at: int, hold_from: int | None = None, hold_up_to: int = -1) -> int | None:
        """The offset of the first separator line starting at or after `at` (a line start), or
        None at the end of the file. The bytes from `hold_from` on are held for `bytes` while
        they are at most `hold_up_to` (any number when it is negative) and a separator long."""
        scan = at - 1          # the line break that ends the line before `at`
        while True:
            index = self._data.find(NEWLINE_SEPARATOR, scan - self._base)
            while index >= 0:
                if (self._data[index - 1:index] == b"\n"
                        or self._data[index - 2:index] == b"\n\r"):
                    return self._base + index + 1
                index = self._data.find(NEWLINE_SEPARATOR, index + 1)
            # A separator may straddle the next block: search again from its possible start.
            scan = max(scan, self.end - len(NEWLINE_SEPARATOR) + 1)
            keep_from = scan - 2
            if hold_from is not None:
                if 0 <= hold_up_to < self.end - hold_from - len(NEWLINE_SEPARATOR):
                    hold_from = None
                else:
                    keep_from = min(keep_from, hold_from)
            if not self._more(keep_from):
                return None

    def bytes(self, begin: int, end: int) -> bytes:
        """The file's bytes in [begin, end), held since `separator` was asked to."""
        assert begin >= self._base, "asked for bytes the window let go of"
        return self._data[begin - self._base:end - self._base]


def _unquoted(content: bytes) -> bytes:
    """A message's bytes as the mbox holds them without its quoting and the blank line that
    belongs to the mbox before the next separator."""
    if b">From " in content:   # every quoted line holds it
        content = QUOTED_FROM.sub(rb"\1", content)
    if content == b"\n" or content.endswith(b"\n\n"):
        return content[:-1]
    if content == b"\r\n" or content.endswith(b"\n\r\n"):
        return content[:-2]
    return content


def _spilled(handle: BinaryIO, begin: int, end: int, spill_over: int) -> bytes | Path:
    """A message's bytes in [begin, end), unquoted a line at a time into a temporary file. A
    message whose unquoted bytes are at most `spill_over` comes back as bytes after all."""
    handle.seek(begin)
    size, last_blank_bytes, at_line_start = 0, 0, True
    with tempfile.NamedTemporaryFile(prefix="trawl-mbox-", delete=False) as spill:
        while (left := end - handle.tell()) > 0:
            piece = handle.readline(min(LINE_LIMIT, left))
            if not piece:
                break
            if at_line_start and piece[-1:] != b"\n" and len(piece) < LINE_HEAD:
                # A line's first piece is long enough to tell a quoted "From ".
                piece += handle.readline(min(LINE_HEAD - len(piece), end - handle.tell()))
            if at_line_start and piece[:1] == b">":
                piece = QUOTED_FROM.sub(rb"\1", piece)
            last_blank_bytes = len(piece) if at_line_start and piece in BLANK_LINES else 0
            at_line_start = piece[-1:] == b"\n"
            spill.write(piece)
            size += len(piece)
        spill.truncate(size - last_blank_bytes)
    path = Path(spill.name)
    if size > spill_over:
        return path
    data = path.read_bytes()
    path.unlink()
    return data


def iter_messages(handle: BinaryIO, start: int, end: int | None,
                  spill_over: int | None = None) -> Iterator[tuple[int, bytes | Path]]:
    """(offset of the separator line, message) for each message starting in [start, end). A
    message is its bytes, or, past `spill_over` bytes, a temporary file holding them, removed
    when the next message is asked for."""
    offset = _first_line(handle, start)
    window = _Window(handle, offset)
    limit = spill_over if spill_over is not None else -1
    separator = window.separator(offset)
    while separator is not None and (end is None or separator < end):
        content_start = window.line_end(separator)
        following = window.separator(content_start, hold_from=content_start, hold_up_to=limit)
        content_end = window.end if following is None else following
        if 0 <= limit < content_end - content_start:
            message: bytes | Path = _spilled(handle, content_start, content_end, limit)
        else:
            message = _unquoted(window.bytes(content_start, content_end))
        yield from _delivered(separator, message)
        separator = following


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
