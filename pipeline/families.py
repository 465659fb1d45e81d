"""Bytes to items, at any depth: the one dispatcher for attachments, archive entries and loose files.

Given a file's bytes it decides, from the content first and the name second, whether they hold
an RFC 822 message, an Outlook MSG, a container (ZIP, TAR, 7z), or a document for Tika, and
returns the items with their family links, plus an exception record for anything unreadable.
"""

from __future__ import annotations

import hashlib
import mimetypes
from typing import Callable

from pipeline import ids
from pipeline.mail import MAX_FAMILY_DEPTH, Origin, ParseContext, email_items, exception_item
from pipeline.records import Item

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Readers of embedded formats register here: sniff(head, name) -> parse(data, ...) -> items.
EmbeddedParser = Callable[[bytes, Origin, ParseContext, "Item | None", str], list[Item]]


def child_path(parent_path: str, index: int) -> str:
    return f"{parent_path}/{index}" if parent_path else str(index)


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


def file_hashes(path: str) -> tuple[str, str]:
    """MD5 and SHA-256 of a file, read in chunks so a file of any size costs no memory."""
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            md5.update(chunk)
            sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def oversize_file_items(path: str, size: int, origin: Origin, limit: int) -> list[Item]:
    """A file too large to read into memory: its item with streamed hashes, and why no text."""
    md5, sha256 = file_hashes(path)
    name = path.rsplit("/", 1)[-1]
    item = Item(id=ids.top_level_id(origin.case, origin.custodian_id, origin.source_path,
                                    origin.locator, sha256),
                case=origin.case, type="document",
                item_class=mimetypes.guess_type(name)[0] or "application/octet-stream",
                custodian=origin.custodian, custodian_id=origin.custodian_id,
                custodians=[origin.custodian], source_path=origin.source_path,
                source_format=origin.source_format, source_locator=origin.locator,
                file_name=name, mime_type=mimetypes.guess_type(name)[0], size=size, md5=md5,
                sha256=sha256, text_source="none")
    item.family_id = item.id
    return [item, exception_item(origin, item.id, "read file", "too_large",
                                 f"{size} bytes exceeds ingest.max_attachment_bytes ({limit}); "
                                 f"hashed in full, contents not read", name)]


def file_item(data: bytes, name: str | None, mime_type: str | None, origin: Origin,
              parent: Item | None, family_path: str, item_type: str | None = None) -> Item:
    """The item for a file as such: a document at the top, an attachment below a parent."""
    md5, sha256 = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    mime_type = mime_type or (mimetypes.guess_type(name)[0] if name else None)
    if parent is None:
        item_id = ids.top_level_id(origin.case, origin.custodian_id, origin.source_path,
                                   origin.locator, sha256)
    else:
        item_id = ids.child_id(parent.id, family_path, sha256)
    item = Item(
        id=item_id, case=origin.case, type=item_type or ("document" if parent is None
                                                         else "attachment"),
        item_class=mime_type or "application/octet-stream", custodian=origin.custodian,
        custodian_id=origin.custodian_id, custodians=[origin.custodian],
        source_path=origin.source_path, source_format=origin.source_format,
        source_locator=origin.locator if not family_path else f"{origin.locator} > {family_path}",
        file_name=name, mime_type=mime_type, size=len(data), md5=md5, sha256=sha256)
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
    level = 0 if parent is None else parent.level + 1
    if level > MAX_FAMILY_DEPTH:
        return [exception_item(origin, parent.id if parent else None, "open attachment",
                               "too_deep", f"nesting deeper than {MAX_FAMILY_DEPTH} levels",
                               name, f"{origin.locator} > {family_path}")]
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


def _extract_text(item: Item, data: bytes, charset: str | None, origin: Origin,
                  ctx: ParseContext) -> list[Item]:
    if len(data) > ctx.ingest.max_attachment_bytes:
        item.text_source = "none"
        return [exception_item(origin, item.id, "extract text", "too_large",
                               f"{len(data)} bytes exceeds ingest.max_attachment_bytes",
                               item.file_name, item.source_locator)]
    warnings: list[str] = []
    extraction = ctx.extractor.extract(data, item.file_name, item.mime_type, charset)
    if extraction.text is not None and len(extraction.text) > ctx.ingest.max_text_chars:
        warnings.append(f"text truncated at {ctx.ingest.max_text_chars} characters")
        item.body = extraction.text[:ctx.ingest.max_text_chars]
    else:
        item.body = extraction.text
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
