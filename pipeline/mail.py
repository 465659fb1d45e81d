"""RFC 822 messages to items: the email, its attachments and embedded messages, at any depth.

Shared by every reader that yields raw RFC 822 bytes (EML, MBOX, and later EMLX and MSG exports).
Parsing uses the compat32 policy, which accepts broken input, and decodes everything best-effort
through pipeline.decoding, recording each guess on the item.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import hashlib
import mimetypes
import re
import tempfile
import traceback
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from pipeline import ids
from pipeline.config import IngestConfig
from pipeline.decoding import (decode_bytes, decode_header_value, format_address, html_to_text,
                               parse_addresses, parse_date)
from pipeline.extract import TextExtractor
from pipeline.records import Item

MAX_FAMILY_DEPTH = 20
MESSAGE_ID_PATTERN = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Origin:
    """Where a top-level item was found."""

    case: str
    custodian: str
    custodian_id: str
    source_path: str
    source_format: str
    locator: str


@dataclass
class ParseContext:
    extractor: TextExtractor
    ingest: IngestConfig


@dataclass
class _Parts:
    plain: list[bytes] = field(default_factory=list)
    plain_charsets: list[str | None] = field(default_factory=list)
    html: bytes | None = None
    html_charset: str | None = None
    attachments: list[email.message.Message] = field(default_factory=list)


def _hashes(data: bytes) -> tuple[str, str]:
    return hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()


def _leaf_parts(message: email.message.Message) -> Iterator[email.message.Message]:
    """Leaves of the MIME tree; an attached message is a leaf, read later as its own item."""
    if message.is_multipart() and message.get_content_type() != "message/rfc822":
        payload = message.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            yield from _leaf_parts(sub)
    else:
        yield message


def _split_parts(message: email.message.Message) -> _Parts:
    return _parts_of(message, [(part, _payload_bytes) for part in _leaf_parts(message)])


def _parts_of(message: email.message.Message,
              leaves: list[tuple[email.message.Message, Callable[[email.message.Message], bytes]]]
              ) -> _Parts:
    """Which leaves are the body (plain, and the first HTML) and which are attachments; each
    leaf comes with how to read its content, called for the body's leaves only."""
    parts = _Parts()
    for part, content in leaves:
        content_type = part.get_content_type()
        is_attachment = (part.get_content_disposition() == "attachment"
                         or part.get_filename() is not None
                         or content_type == "message/rfc822")
        if not is_attachment and content_type == "text/plain":
            parts.plain.append(content(part))
            parts.plain_charsets.append(part.get_content_charset())
        elif not is_attachment and content_type == "text/html" and parts.html is None:
            parts.html = content(part)
            parts.html_charset = part.get_content_charset()
        elif part is message and not message.is_multipart() and content_type.startswith("text/"):
            parts.plain.append(content(part))
            parts.plain_charsets.append(part.get_content_charset())
        else:
            parts.attachments.append(part)
    return parts


def _payload_bytes(part: email.message.Message) -> bytes:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _embedded_message_bytes(part: email.message.Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        inner = payload[0]
        try:
            return inner.as_bytes(policy=email.policy.compat32)
        except (UnicodeEncodeError, LookupError, ValueError):
            return inner.as_string().encode("utf-8", "surrogateescape")
    return _payload_bytes(part)


def _headers_block(message: email.message.Message, warnings: list[str]) -> str:
    return "\n".join(f"{name}: {decode_header_value(value, warnings)}"
                     for name, value in message.items())


def _first_message_id(value: str) -> str | None:
    match = MESSAGE_ID_PATTERN.search(value)
    if match:
        return match.group(0)
    return value.strip() or None


def _truncate(text: str | None, limit: int, warnings: list[str]) -> str | None:
    if text is not None and len(text) > limit:
        warnings.append(f"text truncated at {limit} characters")
        return text[:limit]
    return text


def _email_item(raw: bytes, item_id: str, origin: Origin, message: email.message.Message,
                parts: _Parts, ctx: ParseContext,
                digests: tuple[str, str] | None = None) -> Item:
    warnings: list[str] = []
    md5, sha256 = digests or _hashes(raw)
    get = message.get
    senders = parse_addresses(message.get_all("From", []), warnings)
    to = parse_addresses(message.get_all("To", []), warnings)
    cc = parse_addresses(message.get_all("Cc", []), warnings)
    bcc = parse_addresses(message.get_all("Bcc", []), warnings)
    date_original = decode_header_value(get("Date"), warnings) or None
    parsed_date = parse_date(date_original)
    plain = "\n".join(decode_bytes(data, charset, warnings)
                      for data, charset in zip(parts.plain, parts.plain_charsets)).strip()
    html = decode_bytes(parts.html, parts.html_charset, warnings) if parts.html else None
    if plain:
        body, text_source = plain, "plain"
    elif html:
        body, text_source = html_to_text(html), "html"
    else:
        body, text_source = "", "none"
    attachment_names = [_attachment_name(part, index, warnings)
                        for index, part in enumerate(parts.attachments, start=1)]
    references = MESSAGE_ID_PATTERN.findall(decode_header_value(get("References"), warnings))
    in_reply_to = _first_message_id(decode_header_value(get("In-Reply-To"), warnings))
    message_id = _first_message_id(decode_header_value(get("Message-ID"), warnings))
    recipients = [address.lower() for _, address in to + cc + bcc if address]
    if message.defects:
        warnings.extend(sorted({f"mime defect: {type(d).__name__}" for d in message.defects}))
    item = Item(
        id=item_id, case=origin.case, type="email", item_class="message/rfc822",
        custodian=origin.custodian, custodian_id=origin.custodian_id,
        custodians=[origin.custodian], source_path=origin.source_path,
        source_format=origin.source_format, source_locator=origin.locator,
        message_id=message_id, in_reply_to=in_reply_to, references=references,
        subject=decode_header_value(get("Subject"), warnings) or None,
        from_=format_address(*senders[0]) if senders else None,
        to=[format_address(n, a) for n, a in to], cc=[format_address(n, a) for n, a in cc],
        bcc=[format_address(n, a) for n, a in bcc],
        from_address=senders[0][1].lower() or None if senders else None,
        recipient_addresses=recipients,
        date=parsed_date.utc, date_original=date_original,
        date_utc_offset_minutes=parsed_date.offset_minutes, date_status=parsed_date.status,
        body=_truncate(body, ctx.ingest.max_text_chars, warnings), body_html=html,
        text_source=text_source, headers=_headers_block(message, warnings),
        mime_type="message/rfc822", size=len(raw), md5=md5, sha256=sha256,
        attachment_names=attachment_names, attachment_count=len(attachment_names),
        has_attachments=bool(attachment_names),
    )
    item.decode_warnings = sorted(set(warnings))
    return item


def _attachment_name(part: email.message.Message, index: int, warnings: list[str]) -> str:
    name = part.get_filename()
    if name:
        return decode_header_value(name, warnings)
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner:
            subject = decode_header_value(inner[0].get("Subject"), warnings)
            if subject:
                return subject + ".eml"
        return f"message-{index}.eml"
    extension = mimetypes.guess_extension(part.get_content_type()) or ""
    return f"attachment-{index}{extension}"


def family_item_id(origin: Origin, parent: Item | None, family_path: str, sha256: str) -> str:
    """The deterministic id of an item with this content: from its source and locator at the
    top of a family, from its parent and its path in the family below it."""
    if parent is None:
        return ids.top_level_id(origin.case, origin.custodian_id, origin.source_path,
                                origin.locator, sha256)
    return ids.child_id(parent.id, family_path, sha256)


def child_path(parent_path: str, index: int) -> str:
    """The family path of a parent's `index`-th child (from 1)."""
    return f"{parent_path}/{index}" if parent_path else str(index)


def _link_into_family(item: Item, parent: Item | None, family_path: str) -> None:
    if parent is None:
        item.family_id = item.id
        item.level = 0
        item.family_path = ""
    else:
        item.parent_id = parent.id
        item.family_id = parent.family_id
        item.level = parent.level + 1
        item.family_path = family_path


def exception_item(origin: Origin, about_id: str | None, stage: str, reason: str,
                   message: str, file_name: str | None = None,
                   locator: str | None = None) -> Item:
    """An exception record: what failed, where, and why. Stored and indexed like an item."""
    about = about_id or f"{origin.source_path}#{locator or origin.locator}"
    return Item(
        id=ids.exception_id(origin.case, about, stage, reason, locator or ""), case=origin.case,
        type="exception", item_class=reason, custodian=origin.custodian,
        custodian_id=origin.custodian_id, custodians=[origin.custodian],
        source_path=origin.source_path, source_format=origin.source_format,
        source_locator=locator or origin.locator, file_name=file_name,
        exception_reason=reason, exception_message=message[:4000],
        exception_item_id=about_id, family_path=stage,
    )


def email_items(raw: bytes, origin: Origin, ctx: ParseContext, parent: Item | None = None,
                family_path: str = "") -> list[Item]:
    """Parse one RFC 822 message into its item, its attachments' items and any exceptions."""
    digests = _hashes(raw)
    item_id = family_item_id(origin, parent, family_path, digests[1])
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        parts = _split_parts(message)
        item = _email_item(raw, item_id, origin, message, parts, ctx, digests)
    except Exception as exc:  # a reader must turn any parser failure into data
        return [exception_item(origin, None if parent is None else parent.id, "parse email",
                               "corrupt", _describe(exc), locator=_locator(origin, family_path))]
    _link_into_family(item, parent, family_path)
    results = [item]
    for index, part in enumerate(parts.attachments, start=1):
        member_path = child_path(family_path, index)
        results.extend(_attachment_items(part, item, index, member_path, origin, ctx))
    return results


def email_header_item(header: bytes, md5: str, sha256: str, size: int, origin: Origin,
                      ctx: ParseContext, parent: Item | None = None,
                      family_path: str = "") -> Item:
    """The item of a message too large to parse whole, from its header block alone: sender,
    recipients, subject, date and message ids are searchable; the body and attachments are not
    read. The hashes are the whole message's. Its email hash is taken over its bytes
    (`bytes_email_hash`), because the normalised one needs the body and attachments: only
    byte-identical copies are matched as duplicates."""
    from email.parser import BytesHeaderParser

    from pipeline.transforms.hashes import bytes_email_hash

    item_id = family_item_id(origin, parent, family_path, sha256)
    message = BytesHeaderParser(policy=email.policy.compat32).parsebytes(header)
    item = _email_item(header, item_id, origin, message, _Parts(), ctx)
    item.md5, item.sha256, item.size = md5, sha256, size
    item.email_hash = bytes_email_hash(sha256)
    _link_into_family(item, parent, family_path)
    return item


def streamed_email_items(open_stream: Callable[[], BinaryIO], md5: str, sha256: str, size: int,
                         origin: Origin, ctx: ParseContext, parent: Item | None = None,
                         family_path: str = "") -> list[Item]:
    """A message too large to hold (over `ingest.max_attachment_bytes`), read from a stream as
    `email_items` reads one from bytes: `mime_stream.spool_message` decodes its leaves into
    temporary files one at a time. Its body is read from the first `4 * max_text_chars` bytes
    of each body part; attachments within the cap are read as any are, and larger ones are
    streamed from their files. The hashes are the whole message's; the email hash is left to
    the analysis, as for any message. Raises when the message's structure cannot be followed
    (`mime_stream.MimeStreamError`)."""
    from pipeline.families import MAX_HEADER_BYTES, blob_items, streamed_blob_items
    from pipeline.mime_stream import spool_message

    limit = ctx.ingest.max_attachment_bytes
    body_bytes = 4 * ctx.ingest.max_text_chars
    item_id = family_item_id(origin, parent, family_path, sha256)
    with tempfile.TemporaryDirectory(prefix="trawl-message-") as directory:
        with open_stream() as stream:
            message, leaves = spool_message(stream, Path(directory), MAX_HEADER_BYTES)
        files = {id(leaf.headers): leaf for leaf in leaves}
        cut: list[str] = []

        def body_content(part: email.message.Message) -> bytes:
            leaf = files[id(part)]
            with leaf.path.open("rb") as handle:
                data = handle.read(body_bytes)
            if leaf.size > body_bytes:
                cut.append(f"a body part of {leaf.size} bytes read to its first {body_bytes}")
            return data

        for leaf in leaves:
            if leaf.headers.get_content_type() == "message/rfc822":
                # What the parser would hold as the attached message: its headers name it.
                with leaf.path.open("rb") as handle:
                    leaf.headers.set_payload([BytesHeaderParser(
                        policy=email.policy.compat32).parse(handle, headersonly=True)])
        parts = _parts_of(message, [(leaf.headers, body_content) for leaf in leaves])
        item = _email_item(b"", item_id, origin, message, parts, ctx)
        item.md5, item.sha256, item.size = md5, sha256, size
        item.decode_warnings = sorted(set(item.decode_warnings) | set(cut) | {
            f"read as a stream: {size} bytes is over ingest.max_attachment_bytes ({limit})"})
        _link_into_family(item, parent, family_path)
        results = [item]
        for index, part in enumerate(parts.attachments, start=1):
            leaf = files[id(part)]
            name = item.attachment_names[index - 1]
            member_path = child_path(family_path, index)
            if leaf.size <= limit:
                results.extend(blob_items(leaf.path.read_bytes(), name, part.get_content_type(),
                                          origin, ctx, item, member_path,
                                          charset=part.get_content_charset()))
            else:
                results.extend(streamed_blob_items(
                    lambda path=leaf.path: path.open("rb"), name, part.get_content_type(),
                    origin, ctx, item, member_path, random_access=True))
        return results


def _locator(origin: Origin, family_path: str) -> str:
    return f"{origin.locator} > {family_path}" if family_path else origin.locator


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _attachment_items(part: email.message.Message, parent: Item, index: int, family_path: str,
                      origin: Origin, ctx: ParseContext) -> list[Item]:
    from pipeline.families import blob_items

    name = parent.attachment_names[index - 1]
    if part.get_content_type() == "message/rfc822":
        data = _embedded_message_bytes(part)
    else:
        data = _payload_bytes(part)
    return blob_items(data, name, part.get_content_type(), origin, ctx, parent, family_path,
                      charset=part.get_content_charset())
