"""The fallback for a file no reader claims: it is recorded as an exception, never skipped."""

from __future__ import annotations

import mimetypes
import os
from typing import Iterator

from pipeline.mail import ParseContext, exception_item
from pipeline.records import Item, WorkUnit
from pipeline.sources.base import SourceReader


class UnsupportedReader(SourceReader):
    name = "unsupported"

    def score(self, head: bytes, path: str) -> int:
        return 1

    def read(self, unit: WorkUnit, ctx: ParseContext) -> Iterator[Item]:
        origin = self.origin(unit, "file")
        file_name = os.path.basename(unit.path)
        try:
            size = os.path.getsize(unit.path)
        except OSError as exc:
            yield exception_item(origin, None, "read file", "unreadable", str(exc), file_name)
            return
        if size == 0:
            yield exception_item(origin, None, "detect format", "empty", "the file is empty",
                                 file_name)
            return
        guessed = mimetypes.guess_type(file_name)[0] or "unknown type"
        yield exception_item(origin, None, "detect format", "unsupported",
                             f"no reader for this file ({guessed}, {size} bytes)", file_name)
