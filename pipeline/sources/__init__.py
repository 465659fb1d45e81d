"""The registry of source readers. Adding a format: one module, one line in READERS."""

from __future__ import annotations

from pipeline.sources.base import HEAD_BYTES, SourceReader
from pipeline.sources.document import DocumentReader
from pipeline.sources.eml import EmlReader
from pipeline.sources.emlx import EmlxReader
from pipeline.sources.mbox import MboxReader
from pipeline.sources.msg import MsgReader
from pipeline.sources.pst import PstReader
from pipeline.sources.unsupported import UnsupportedReader

READERS: tuple[SourceReader, ...] = (
    MboxReader(),
    EmlxReader(),
    MsgReader(),
    PstReader(),
    EmlReader(),
    DocumentReader(),
    UnsupportedReader(),
)

READERS_BY_NAME = {reader.name: reader for reader in READERS}


def reader_named(name: str) -> SourceReader:
    return READERS_BY_NAME[name]


def detect_reader(path: str) -> SourceReader:
    """The reader most sure of this file, judged from its content first and its name second."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError:
        return READERS_BY_NAME["unsupported"]
    return max(READERS, key=lambda reader: reader.score(head, path))
