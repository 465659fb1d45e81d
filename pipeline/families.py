"""Bytes to items, at any depth: the one dispatcher for attachments, archive entries and loose files.

Given a file's bytes it decides, from the content first and the name second, whether they hold
an RFC 822 message, an Outlook MSG, a container (ZIP, TAR, 7z), or a document for Tika, and
returns the items with their family links, plus an exception record for anything unreadable.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
from typing import Any, BinaryIO, Callable

from pipeline.extract import Extraction
from pipeline.mail import (MAX_FAMILY_DEPTH, Origin, ParseContext, child_path,
                           email_header_item, email_items, exception_item, family_item_id,
                           streamed_email_items)
from pipeline.records import Item

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Readers of embedded formats register here: sniff(head, name) -> parse(data, ...) -> items.
EmbeddedParser = Callable[[bytes, Origin, ParseContext, "Item | None", str], list[Item]]


def _sniff_parser(data: bytes, name: str | None, declared_mime: str | None) -> EmbeddedParser | None:
    from pipeline.sources.eml import looks_like_rfc822

    head = data[:4096]
    if declared_mime == "message/rfc822" or looks_like_rfc822(head):
        return email_items
    if head.startswith(OLE_MAGIC):
        from pipeline.sources.msg import is_outlook_msg, msg_items

        if is_outlook_msg(data):
            return msg_items
    return None


HASH_CHUNK = 1 << 20
HEAD_BYTES = 4096
# A message's header block longer than this is not read on its own.
MAX_HEADER_BYTES = 1 << 20
# ZIP-based documents, told from archives by name when the ZIP cannot be listed from a stream.
ZIP_DOCUMENT_EXTENSIONS = (".docx", ".docm", ".xlsx", ".xlsm", ".pptx", ".pptm", ".odt",
                           ".ods", ".odp", ".epub", ".vsdx", ".xps")

OpenStream = Callable[[], BinaryIO]


class PositionedStream(io.RawIOBase):
    """A seekable stream over content of a known size that can be read at any position
    (`read_at`): a window on a file, a PST attachment. Wrapped in a BufferedReader, it is read a
    block at a time, so content of any size is never held."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size, self._position = size, 0

    def read_at(self, position: int, size: int) -> bytes:
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            return 0
        data = self.read_at(self._position, wanted)
        buffer[:len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position


class ExpansionLimit(Exception):
    """A stream yielded more bytes than its container could honestly expand to."""


class ContentDigest:
    """MD5, SHA-256 and size of content fed to it piece by piece, none of it kept. Raises
    ExpansionLimit once more than `max_bytes` have come."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self._md5, self._sha256, self.size = hashlib.md5(), hashlib.sha256(), 0
        self._max_bytes = max_bytes

    def update(self, data: bytes | bytearray) -> None:
        self._md5.update(data)
        self._sha256.update(data)
        self.size += len(data)
        if self._max_bytes is not None and self.size > self._max_bytes:
            raise ExpansionLimit(f"expands past {self._max_bytes} bytes")

    def result(self) -> tuple[str, str, int]:
        return self._md5.hexdigest(), self._sha256.hexdigest(), self.size


def stream_hashes(open_stream: OpenStream, max_bytes: int | None = None) -> tuple[str, str, int]:
    """MD5, SHA-256 and size of a stream, read in chunks so content of any size costs no memory.
    Raises ExpansionLimit past `max_bytes`."""
    digest = ContentDigest(max_bytes)
    with open_stream() as stream:
        for chunk in iter(lambda: stream.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.result()


def file_hashes(path: str) -> tuple[str, str]:
    """MD5 and SHA-256 of a file, read in chunks."""
    md5, sha256, _ = stream_hashes(lambda: open(path, "rb"))
    return md5, sha256


def file_item(data: bytes, name: str | None, mime_type: str | None, origin: Origin,
              parent: Item | None, family_path: str, item_type: str | None = None) -> Item:
    """The item for a file as such: a document at the top, an attachment below a parent."""
    return _new_file_item(hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(),
                          len(data), name, mime_type, origin, parent, family_path, item_type)


def _new_file_item(md5: str, sha256: str, size: int, name: str | None, mime_type: str | None,
                   origin: Origin, parent: Item | None, family_path: str,
                   item_type: str | None = None) -> Item:
    mime_type = mime_type or (mimetypes.guess_type(name)[0] if name else None)
    item = Item(
        id=family_item_id(origin, parent, family_path, sha256), case=origin.case,
        type=item_type or ("document" if parent is None else "attachment"),
        item_class=mime_type or "application/octet-stream", custodian=origin.custodian,
        custodian_id=origin.custodian_id, custodians=[origin.custodian],
        source_path=origin.source_path, source_format=origin.source_format,
        source_locator=origin.locator if not family_path else f"{origin.locator} > {family_path}",
        file_name=name, mime_type=mime_type, size=size, md5=md5, sha256=sha256)
    if parent is None:
        item.family_id, item.level, item.family_path = item.id, 0, ""
    else:
        item.parent_id, item.family_id = parent.id, parent.family_id
        item.level, item.family_path = parent.level + 1, family_path
        item.date, item.date_status = parent.date, parent.date_status
        item.date_original = parent.date_original
        item.date_utc_offset_minutes = parent.date_utc_offset_minutes
        item.subject = parent.subject
        item.folder_path = parent.folder_path
        item.recovered = parent.recovered
    return item


def blob_items(data: bytes, name: str | None, declared_mime: str | None, origin: Origin,
               ctx: ParseContext, parent: Item | None, family_path: str,
               charset: str | None = None) -> list[Item]:
    """Every item in a file's bytes: itself, what it contains, and exceptions for what failed."""
    too_deep = _too_deep(name, origin, parent, family_path)
    if too_deep:
        return too_deep
    parser = _sniff_parser(data, name, declared_mime)
    if parser is not None:
        return parser(data, origin, ctx, parent, family_path)
    from pipeline.containers import container_kind, container_items

    kind = container_kind(data, name)
    item = file_item(data, name, declared_mime, origin, parent, family_path)
    if kind is not None:
        item.text_source = "none"
        return [item, *container_items(kind, data, item, origin, ctx)]
    return [item, *_extract_text(item, data, charset, origin, ctx)]


def _too_deep(name: str | None, origin: Origin, parent: Item | None,
              family_path: str) -> list[Item]:
    if parent is None or parent.level + 1 <= MAX_FAMILY_DEPTH:
        return []
    return [exception_item(origin, parent.id, "open attachment", "too_deep",
                           f"nesting deeper than {MAX_FAMILY_DEPTH} levels", name,
                           f"{origin.locator} > {family_path}")]


def streamed_blob_items(open_stream: OpenStream | None, name: str | None,
                        declared_mime: str | None, origin: Origin, ctx: ParseContext,
                        parent: Item | None, family_path: str, random_access: bool,
                        max_bytes: int | None = None,
                        digest: tuple[str, str, int] | None = None) -> list[Item]:
    """`blob_items` for content larger than `ingest.max_attachment_bytes`, which is never held
    in memory. `open_stream` opens it afresh each time it is called: one pass hashes it, and
    Tika reads another, writing at most `ingest.max_text_chars` of text.

    An archive is opened from the stream when the stream has `random_access` (a loose file, a
    PST attachment). An archive entry's stream seeks backwards by decompressing again from the
    start, so an archive that large inside another is hashed and recorded as too large to open.
    An RFC 822 message that large is read from the stream (`mail.streamed_email_items`), or, if
    its structure cannot be followed, for its headers alone (`mail.email_header_item`); an
    Outlook MSG that large is hashed and recorded. `max_bytes` bounds what an archive entry's
    stream may expand to (a zip bomb). `digest` (MD5, SHA-256, size), when the caller has it
    already, spares the hashing pass; content with no stream (a 7z entry) comes with it, and is
    recorded as too large to read."""
    too_deep = _too_deep(name, origin, parent, family_path)
    if too_deep:
        return too_deep
    md5, sha256, size = digest or stream_hashes(open_stream, max_bytes)
    item = _new_file_item(md5, sha256, size, name, declared_mime, origin, parent, family_path)
    limit = ctx.ingest.max_attachment_bytes

    def too_large(why: str, subject: Item = item) -> list[Item]:
        subject.text_source = "none"
        stage = "read file" if parent is None else "read attachment"
        return [subject, exception_item(origin, subject.id, stage, "too_large",
                                        f"{size} bytes exceeds ingest.max_attachment_bytes "
                                        f"({limit}); hashed in full, {why}", name,
                                        subject.source_locator)]

    if open_stream is None:
        return too_large("its format gives no stream to read it from")
    with open_stream() as stream:
        head = stream.read(HEAD_BYTES)
    parser = _sniff_parser(head, name, declared_mime)
    if parser is email_items:
        try:
            return streamed_email_items(open_stream, md5, sha256, size, origin, ctx, parent,
                                        family_path)
        except Exception as exc:  # a structure it cannot follow: the headers, if they read
            unread = f"its body and attachments not ({type(exc).__name__}: {exc})"
        header = _header_block(open_stream)
        message = None
        if header is not None:
            try:
                message = email_header_item(header, md5, sha256, size, origin, ctx, parent,
                                            family_path)
            except Exception:  # headers the parser chokes on: the message is recorded unparsed
                message = None
        if message is not None:
            return too_large(f"its headers read, {unread}", message)
    if parser is not None or (head.startswith(OLE_MAGIC)
                              and (name or "").lower().endswith(".msg")):
        return too_large("a message this large is not parsed")
    from pipeline.containers import container_items, container_kind

    kind = container_kind(head, name)
    if kind == "zip" and _is_zip_document(open_stream, name, random_access):
        kind = None
    if kind is not None:
        if not random_access:
            return too_large("an archive this large inside an archive is not opened")
        item.text_source = "none"
        with open_stream() as stream:
            return [item, *container_items(kind, stream, item, origin, ctx, size)]
    return [item, *_apply_extraction(item, ctx.extractor.extract_stream(
        open_stream, size, sha256, name, item.mime_type, ctx.ingest.max_text_chars),
        origin, ctx)]


def _header_block(open_stream: OpenStream) -> bytes | None:
    """An RFC 822 message's header block, up to its first blank line; None when there is no
    blank line within MAX_HEADER_BYTES."""
    with open_stream() as stream:
        start = stream.read(MAX_HEADER_BYTES)
    ends = [(start.find(blank), len(blank)) for blank in (b"\r\n\r\n", b"\n\n")]
    found = [(at, length) for at, length in ends if at >= 0]
    if not found:
        return None
    at, length = min(found)
    return start[:at + length]


def _is_zip_document(open_stream: OpenStream, name: str | None, random_access: bool) -> bool:
    """An OOXML or ODF document, not an archive: by its entries when the ZIP can be listed
    cheaply, else by its name."""
    if random_access:
        import zipfile

        from pipeline.containers import DOCUMENT_ZIP_MARKERS

        try:
            with open_stream() as stream, zipfile.ZipFile(stream) as archive:
                return any(marker in archive.NameToInfo for marker in DOCUMENT_ZIP_MARKERS)
        except (zipfile.BadZipFile, OSError, ValueError):
            return False
    return (name or "").lower().endswith(ZIP_DOCUMENT_EXTENSIONS)


def _extract_text(item: Item, data: bytes, charset: str | None, origin: Origin,
                  ctx: ParseContext) -> list[Item]:
    if len(data) > ctx.ingest.max_attachment_bytes:
        item.text_source = "none"
        return [exception_item(origin, item.id, "extract text", "too_large",
                               f"{len(data)} bytes exceeds ingest.max_attachment_bytes",
                               item.file_name, item.source_locator)]
    extraction = ctx.extractor.extract(data, item.file_name, item.mime_type, charset)
    return _apply_extraction(item, extraction, origin, ctx)


def _apply_extraction(item: Item, extraction: Extraction, origin: Origin,
                      ctx: ParseContext) -> list[Item]:
    """Set the item's text from an Extraction; an exception record for a failure."""
    warnings: list[str] = []
    if extraction.cut_at is not None:
        warnings.append(f"text truncated at {extraction.cut_at} characters; the rest was "
                        f"not read")
    elif extraction.text is not None and len(extraction.text) > ctx.ingest.max_text_chars:
        warnings.append(f"text truncated at {ctx.ingest.max_text_chars} characters")
    item.body = (extraction.text[:ctx.ingest.max_text_chars] if extraction.text is not None
                 else None)
    item.text_source = extraction.source
    item.decode_warnings = warnings
    if extraction.detected_type and (not item.mime_type
                                     or item.mime_type == "application/octet-stream"):
        item.mime_type = item.item_class = extraction.detected_type
    if extraction.error_reason:
        return [exception_item(origin, item.id, "extract text", extraction.error_reason,
                               extraction.error_message or "", item.file_name,
                               item.source_locator)]
    return []
