"""The one small interface every source format implements."""

from __future__ import annotations

import io
import os
from abc import ABC, abstractmethod
from typing import ClassVar, Iterable, Iterator

from pipeline.families import PositionedStream
from pipeline.mail import Origin, ParseContext, exception_item
from pipeline.records import Item, SourceFile, WorkUnit

HEAD_BYTES = 4096


class SourceReader(ABC):
    """Reads one format. Adding a format means one subclass and one line in the registry."""

    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def score(self, head: bytes, path: str) -> int:
        """How sure this reader is that it can read the file: 0 (no) to 100 (certain)."""

    def plan(self, source: SourceFile, split_bytes: int) -> list[WorkUnit]:
        """Work units for one file. The default reads the whole file in one task."""
        return [WorkUnit(case=source.case, custodian=source.custodian,
                         custodian_id=source.custodian_id, path=source.path, format=self.name)]

    @abstractmethod
    def read(self, unit: WorkUnit, ctx: ParseContext) -> Iterator[Item]:
        """Every item in the unit, plus an exception record for anything that could not be read.

        Must not raise for bad input: a corrupt file becomes exception records.
        """

    @staticmethod
    def origin(unit: WorkUnit, locator: str) -> Origin:
        return Origin(case=unit.case, custodian=unit.custodian, custodian_id=unit.custodian_id,
                      source_path=unit.path, source_format=unit.format, locator=locator)


class WholeFileReader(SourceReader):
    """A format read whole, in one task: the file's bytes are handed to `items_from_bytes`.

    Files larger than `ingest.max_attachment_bytes` are not read into memory: they are read
    as streams (`families.streamed_blob_items`).
    """

    def read(self, unit: WorkUnit, ctx: ParseContext) -> Iterator[Item]:
        origin = self.origin(unit, "file")
        file_name = os.path.basename(unit.path)
        try:
            if os.path.getsize(unit.path) > ctx.ingest.max_attachment_bytes:
                yield from self.streamed_items(unit.path, file_name, origin, ctx)
                return
            with open(unit.path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            yield exception_item(origin, None, "read file", "unreadable", str(exc), file_name)
            return
        yield from self.items_from_bytes(data, file_name, origin, ctx)

    @abstractmethod
    def items_from_bytes(self, data: bytes, file_name: str, origin: Origin,
                         ctx: ParseContext) -> Iterable[Item]:
        """Every item in one whole file's bytes."""

    def streamed_items(self, path: str, file_name: str, origin: Origin,
                       ctx: ParseContext) -> Iterable[Item]:
        """Every item in a file too large to hold, read from streams of it. The default reads
        the whole file as one piece of content; a format that wraps its content overrides it."""
        from pipeline.families import streamed_blob_items

        return streamed_blob_items(lambda: open(path, "rb"), file_name, None, origin, ctx, None,
                                   "", random_access=True)


class FileWindow(PositionedStream):
    """`length` bytes of a file from `offset`, read as a file of their own."""

    def __init__(self, path: str, offset: int, length: int) -> None:
        super().__init__(length)
        self._file = open(path, "rb")
        self._start = offset

    def read_at(self, position: int, size: int) -> bytes:
        self._file.seek(self._start + position)
        return self._file.read(size)

    def close(self) -> None:
        self._file.close()
        super().close()


def open_window(path: str, offset: int, length: int) -> io.BufferedReader:
    return io.BufferedReader(FileWindow(path, offset, length), buffer_size=1 << 16)
