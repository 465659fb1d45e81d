"""Outlook .msg files (OLE compound files) to items, read with extract-msg.

One MSG holds one Outlook item of any class (email, contact, sticky note, post, appointment,
task, ...), its attached files, and embedded MSGs at any depth. Each becomes an item with its
family links; whatever extract-msg cannot read becomes an exception record, never a crash.
Embedded messages are serialised back into standalone MSG bytes, so a child is hashed, read and
exported exactly like a top-level file.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import hashlib
import io
import logging
import mimetypes
import re
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import extract_msg
import olefile
from extract_msg.constants import ps
from extract_msg.encoding import lookupCodePage
from extract_msg.enums import AttachmentType, DeencapType, ErrorBehavior
from extract_msg.exceptions import (InvalidFileFormatError, UnrecognizedMSGTypeError,
                                    UnsupportedMSGTypeError)
from extract_msg.msg_classes import CalendarBase, Contact, MessageBase, MessageSignedBase, Task
from extract_msg.null_date import NullDate
from extract_msg.structures.entry_id import EntryID

from pipeline.decoding import (decode_bytes, decode_header_value, format_address, html_to_text,
                               parse_addresses, parse_date)
from pipeline.item_classes import item_type_for
from pipeline.mail import (MAX_FAMILY_DEPTH, MESSAGE_ID_PATTERN, Origin, ParseContext,
                           exception_item, family_item_id)
from pipeline.records import Item
from pipeline.sources.base import WholeFileReader

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MSG_MIME = "application/vnd.ms-outlook"
# Root entries that only an Outlook message has; Word, Excel and PowerPoint files have none.
MSG_ROOT_PREFIXES = ("__substg1.0_", "__properties_version1.0")
# olefile refuses anything shorter, and would take short bytes for a file name.
MIN_OLE_SIZE = 1536

# Tolerate broken attachments (they become exception records) and broken RTF (no text), so one
# bad part never costs the whole message. Attachments are loaded after the message fields.
OPEN_OPTIONS: dict[str, Any] = {
    "delayAttachments": True,
    "errorBehavior": (ErrorBehavior.ATTACH_SUPPRESS_ALL | ErrorBehavior.RTFDE
                      | ErrorBehavior.STANDARDS_VIOLATION),
}
NOISY_LOGGERS = ("extract_msg", "RTFDE")

# PR_RECIPIENT_TYPE: the low bits say To/Cc/Bcc; MAPI_P1 marks a resend copy of a recipient.
RECIPIENT_TYPE_MASK = 0x0FFFFFFF
MAPI_P1 = 0x10000000
EMAIL_RECIPIENT_FIELDS = {1: "to", 2: "cc", 3: "bcc"}
# Meetings reuse the numbers: 1 required attendee, 2 optional, 3 resource (a room, not a Bcc).
MEETING_RECIPIENT_FIELDS = {1: "to", 2: "cc", 3: "cc"}
IMPORTANCE_NAMES = {0: "low", 1: "normal", 2: "high"}

# The contact properties extract-msg exposes that hold a phone or fax number.
PHONE_ATTRIBUTES = (
    "primaryTelephoneNumber", "businessTelephoneNumber", "businessTelephone2Number",
    "companyMainTelephoneNumber", "mobileTelephoneNumber", "homeTelephoneNumber",
    "homeTelephone2Number", "otherTelephoneNumber", "carTelephoneNumber", "pagerTelephoneNumber",
    "assistantTelephoneNumber", "callbackTelephoneNumber", "radioTelephoneNumber",
    "isdnNumber", "tddTelephoneNumber", "telexNumber", "primaryFaxNumber", "businessFaxNumber",
    "homeFaxNumber",
)
EMBEDDED_ADDRESS = re.compile(r"[^\s()<>]+@[^\s()<>]+")
# PKCS #7 ContentInfo type for enveloped (encrypted) data, as DER: OID 1.2.840.113549.1.7.3.
PKCS7_ENVELOPED_DATA = bytes.fromhex("06092a864886f70d010703")


# --- Detection --------------------------------------------------------------------------------

def is_outlook_msg(data: bytes) -> bool:
    """OLE compound file holding an Outlook message (has __substg1.0_ /
    __properties_version1.0 streams)."""
    if not data.startswith(OLE_MAGIC) or len(data) < MIN_OLE_SIZE:
        return False
    return _has_msg_streams(io.BytesIO(data))


def _has_msg_streams(source: Any) -> bool:
    """True when the OLE directory (of a path or a file object) holds MSG property streams."""
    return any(name.startswith(MSG_ROOT_PREFIXES) for name in _root_entry_names(source))


def _root_entry_names(source: Any) -> set[str]:
    """Names at the top of an OLE directory; none when olefile cannot read it."""
    try:
        with olefile.OleFileIO(source) as ole:
            return {entry[0] for entry in ole.listdir(streams=True, storages=True)}
    except Exception:  # olefile raises many types on broken input; all mean "not confirmed"
        return set()


class MsgReader(WholeFileReader):
    name = "msg"
    extensions = (".msg",)

    def score(self, head: bytes, path: str) -> int:
        if not head.startswith(OLE_MAGIC):
            return 0  # e.g. aleph/fnf.msg, an RFC 822 message with a .msg name: EmlReader's
        if path.lower().endswith(".msg"):
            return 85
        return 70 if _has_msg_streams(path) else 0

    def items_from_bytes(self, data: bytes, file_name: str, origin: Origin,
                         ctx: ParseContext) -> list[Item]:
        return msg_items(data, origin, ctx, None, "")


# --- One MSG to items -------------------------------------------------------------------------

def msg_items(data: bytes, origin: Origin, ctx: ParseContext, parent: Item | None,
              family_path: str) -> list[Item]:
    """Items for one MSG's bytes: the message (any class), its attachments and embedded
    messages at any depth, and exceptions."""
    return _msg_items(data, origin, ctx, parent, family_path, file_name=None)


def _msg_items(data: bytes, origin: Origin, ctx: ParseContext, parent: Item | None,
               family_path: str, file_name: str | None) -> list[Item]:
    _quiet_noisy_loggers()
    item_id = _item_id(data, origin, parent, family_path)
    try:
        msg, unsupported_class = _open(data)
    except Exception as exc:  # extract-msg and olefile raise many types; all are data here
        return _unreadable_msg(data, origin, parent, family_path, file_name, exc)
    try:
        notes: list[_Note] = []
        attachments = _load_attachments(msg, notes)
        item = _message_item(msg, attachments, data, item_id, origin, ctx, family_path,
                             file_name, notes)
        _link_into_family(item, parent, family_path)
        results = [item]
        if unsupported_class:
            results.append(exception_item(
                origin, item.id, "open msg", "unsupported",
                f"extract-msg has no reader for message class {unsupported_class!r}; "
                f"read as a generic message", file_name, item.source_locator))
        results.extend(_item_notes(notes, item, origin))
        results.extend(_attachment_items(attachments, item, origin, ctx))
        return results
    except Exception as exc:  # a property extract-msg cannot decode must not stop the job
        return _unreadable_msg(data, origin, parent, family_path, file_name, exc)
    finally:
        msg.close()  # MSG objects hold the OLE file open, embedded messages included


def _quiet_noisy_loggers() -> None:
    """extract-msg and RTFDE log every missing stream; keep them at WARNING unless configured."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def _item_id(data: bytes, origin: Origin, parent: Item | None, family_path: str) -> str:
    return family_item_id(origin, parent, family_path, hashlib.sha256(data).hexdigest())


def _open(data: bytes) -> tuple[MessageBase, str | None]:
    """The message as extract-msg's class for it, or as a generic message when it has none."""
    if len(data) < MIN_OLE_SIZE:
        raise InvalidFileFormatError(f"{len(data)} bytes is too short for an OLE compound file")
    try:
        msg = extract_msg.openMsg(data, **OPEN_OPTIONS)
    except (UnsupportedMSGTypeError, UnrecognizedMSGTypeError) as refused:
        try:
            generic = MessageBase(data, **OPEN_OPTIONS)
        except Exception:  # not even readable generically: report why extract-msg refused it
            raise refused from None
        return generic, _clean(generic.classType) or "(none)"
    if isinstance(msg, MessageBase):
        return msg, None
    # A bare "IPM" class gets extract-msg's property-only MSGFile; read it as a message.
    msg.close()
    return MessageBase(data, **OPEN_OPTIONS), None


def _unreadable_msg(data: bytes, origin: Origin, parent: Item | None, family_path: str,
                    file_name: str | None, exc: BaseException) -> list[Item]:
    """A top-level MSG that cannot be read is an exception record; a child one is also kept
    as a plain attachment, so the family still shows it and its bytes can be exported."""
    reason = _failure_reason(exc, data)
    if parent is None:
        return [exception_item(origin, None, "open msg", reason, _describe(exc), file_name)]
    from pipeline.families import file_item

    item = file_item(data, file_name, MSG_MIME, origin, parent, family_path)
    item.text_source = "none"
    return [item, exception_item(origin, item.id, "open msg", reason, _describe(exc),
                                 file_name, item.source_locator)]


def _failure_reason(exc: BaseException, data: bytes) -> str:
    """unsupported: a message class extract-msg refuses, or a readable OLE file that is no
    message at all (a Word file named .msg); corrupt: everything else, truncation included."""
    if isinstance(exc, (UnsupportedMSGTypeError, UnrecognizedMSGTypeError)):
        return "unsupported"
    names = _root_entry_names(io.BytesIO(data)) if len(data) >= MIN_OLE_SIZE else set()
    if names and not any(name.startswith(MSG_ROOT_PREFIXES) for name in names):
        return "unsupported"
    return "corrupt"


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _locator(origin: Origin, family_path: str) -> str:
    return f"{origin.locator} > {family_path}" if family_path else origin.locator


def _link_into_family(item: Item, parent: Item | None, family_path: str) -> None:
    if parent is None:
        item.family_id, item.level, item.family_path = item.id, 0, ""
    else:
        item.parent_id, item.family_id = parent.id, parent.family_id
        item.level, item.family_path = parent.level + 1, family_path


# --- The message's own fields -----------------------------------------------------------------

@dataclass(frozen=True)
class _Note:
    """Something that went wrong reading part of a message that was otherwise read."""
    stage: str
    reason: str
    message: str


def _message_item(msg: MessageBase, attachments: list[Any], data: bytes, item_id: str,
                  origin: Origin, ctx: ParseContext, family_path: str, file_name: str | None,
                  notes: list[_Note]) -> Item:
    warnings: list[str] = []
    message_class = _clean(msg.classType) or "IPM"
    headers = _transport_headers(msg)
    sent = _sent_date(msg, headers, warnings)
    sender = _sender(msg, headers, warnings)
    recipients = _recipients(msg, headers, warnings)
    body, body_html, text_source = _body(msg, message_class, ctx, notes, warnings)
    attachment_names = [_attachment_name(attachment, index)
                        for index, attachment in enumerate(attachments, start=1)]
    item = Item(
        id=item_id, case=origin.case, type=item_type_for(message_class),
        item_class=message_class, custodian=origin.custodian, custodian_id=origin.custodian_id,
        custodians=[origin.custodian], source_path=origin.source_path,
        source_format=origin.source_format, source_locator=_locator(origin, family_path),
        message_id=_message_id(msg, headers, warnings),
        in_reply_to=_in_reply_to(msg, headers, warnings),
        references=_references(msg, headers, warnings),
        conversation_index=_conversation_index(msg),
        subject=_subject(msg),
        from_=format_address(*sender) if sender else None,
        from_address=(sender[1].lower() or None) if sender else None,
        to=[format_address(*pair) for pair in recipients["to"]],
        cc=[format_address(*pair) for pair in recipients["cc"]],
        bcc=[format_address(*pair) for pair in recipients["bcc"]],
        recipient_addresses=[address.lower() for field in ("to", "cc", "bcc")
                             for _, address in recipients[field] if address],
        date=sent.utc, date_original=sent.original,
        date_utc_offset_minutes=sent.offset_minutes, date_status=sent.status,
        received_date=_mapi_time(msg.getPropertyVal("0E060040")),  # PR_MESSAGE_DELIVERY_TIME
        body=_truncate(body, ctx.ingest.max_text_chars, warnings), body_html=body_html,
        text_source=text_source, headers=_clean(msg.headerText),
        file_name=file_name, mime_type=MSG_MIME, size=len(data),
        md5=hashlib.md5(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest(),
        attachment_names=attachment_names, attachment_count=len(attachment_names),
        has_attachments=bool(attachment_names),
        categories=_categories(msg), importance=_importance(msg),
    )
    _fill_class_fields(item, msg)
    item.decode_warnings = sorted(set(warnings))
    return item


def _item_notes(notes: list[_Note], item: Item, origin: Origin) -> list[Item]:
    return [exception_item(origin, item.id, note.stage, note.reason, note.message,
                           item.file_name, item.source_locator) for note in notes]


def _clean(value: object) -> str | None:
    """extract-msg keeps the NUL terminators of old ANSI strings; an empty string is no value."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = decode_bytes(value, None, [])
    text = str(value).replace("\x00", "").strip()
    return text or None


def _string(msg: Any, tag: str) -> str | None:
    """A string property by its 4-digit tag, whichever of Unicode or ANSI the MSG stored."""
    return _clean(msg.getStringStream(f"__substg1.0_{tag}"))


def _truncate(text: str | None, limit: int, warnings: list[str]) -> str | None:
    if text is not None and len(text) > limit:
        warnings.append(f"text truncated at {limit} characters")
        return text[:limit]
    return text


def _transport_headers(msg: MessageBase) -> email.message.Message | None:
    """The RFC 822 header block Exchange kept (PR_TRANSPORT_MESSAGE_HEADERS), parsed."""
    text = _clean(msg.headerText)
    if not text:
        return None
    text = text.removeprefix("Microsoft Mail Internet Headers Version 2.0").lstrip()
    return email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)


def _header(headers: email.message.Message | None, name: str, warnings: list[str]) -> str | None:
    if headers is None or headers.get(name) is None:
        return None
    return decode_header_value(headers.get(name), warnings) or None


def _subject(msg: MessageBase) -> str | None:
    if isinstance(msg, Contact):
        return _clean(_safe(lambda: msg.displayName)) or _clean(msg.subject)
    return _clean(msg.subject)


def _safe(read: Any) -> Any:
    """One optional property: a value extract-msg cannot decode is treated as absent."""
    try:
        return read()
    except Exception:  # extract-msg raises many types for malformed properties
        return None


# Sender address properties, best first: SMTP forms before the X.500 (EX) forms Exchange uses.
# Each is (address tag, address-type tag or None when the property is SMTP by definition).
SENDER_ADDRESSES = (("5D01", None), ("0C1F", "0C1E"), ("5D02", None), ("0065", "0064"))


def _sender(msg: MessageBase, headers: email.message.Message | None,
            warnings: list[str]) -> tuple[str, str] | None:
    """(name, address): the From header as sent when Exchange kept it, else the MAPI sender."""
    if headers is not None and headers.get_all("From"):
        pairs = parse_addresses(headers.get_all("From"), warnings)
        if pairs:
            return pairs[0]
    name = _string(msg, "0C1A") or _string(msg, "0042") or ""
    address = _best_address(msg, SENDER_ADDRESSES) or ""
    return (name, address) if name or address else None


def _best_address(msg: Any, candidates: tuple[tuple[str, str | None], ...]) -> str | None:
    """The first SMTP address among the candidates, else the first address of any type."""
    found = [(_string(msg, tag), _string(msg, type_tag) if type_tag else "SMTP")
             for tag, type_tag in candidates]
    present = [(address, kind) for address, kind in found if address]
    for address, kind in present:
        if _is_smtp(address, kind):
            return address
    return present[0][0] if present else None


def _is_smtp(address: str, address_type: str | None) -> bool:
    if address_type:
        return address_type.upper() == "SMTP"
    return "@" in address and not address.startswith("/")


def _recipients(msg: MessageBase, headers: email.message.Message | None,
                warnings: list[str]) -> dict[str, list[tuple[str, str]]]:
    """To/Cc/Bcc from the recipient table (it alone knows Bcc), else from transport headers."""
    fields = MEETING_RECIPIENT_FIELDS if isinstance(msg, CalendarBase) else EMAIL_RECIPIENT_FIELDS
    result: dict[str, list[tuple[str, str]]] = {"to": [], "cc": [], "bcc": []}
    for recipient in msg.recipients:
        flags = recipient.typeFlags or 0
        field = fields.get(flags & RECIPIENT_TYPE_MASK)
        if field is None or flags & MAPI_P1:
            continue
        name = _clean(recipient.name) or ""
        address = _recipient_address(recipient) or ""
        if name or address:
            result[field].append((name, address))
    if headers is not None and not any(result.values()):
        for field, header in (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc")):
            result[field] = parse_addresses(headers.get_all(header, []), warnings)
    return result


def _recipient_address(recipient: Any) -> str | None:
    """PR_SMTP_ADDRESS when present, else PR_EMAIL_ADDRESS (an X.500 DN for EX recipients)."""
    return (_clean(recipient.getStringStream("__substg1.0_39FE"))
            or _clean(recipient.getStringStream("__substg1.0_3003")))


@dataclass(frozen=True)
class _SentDate:
    utc: datetime | None
    offset_minutes: int | None
    status: str
    original: str | None


def _sent_date(msg: MessageBase, headers: email.message.Message | None,
               warnings: list[str]) -> _SentDate:
    """The Date header when Exchange kept one (it has the sender's offset), else
    PR_CLIENT_SUBMIT_TIME (UTC, offset unknown). Creation times are never taken for it."""
    header_value = _header(headers, "Date", warnings)
    parsed = parse_date(header_value)
    if parsed.status == "ok":
        return _SentDate(parsed.utc, parsed.offset_minutes, "ok", header_value)
    raw_submit = msg.getPropertyVal("00390040")
    submit = _mapi_time(raw_submit)
    if submit is not None:
        if header_value:
            warnings.append("unparseable Date header; sent date from PR_CLIENT_SUBMIT_TIME")
        return _SentDate(submit, None, "ok", header_value or submit.isoformat())
    if header_value:
        return _SentDate(None, None, "unparseable", header_value)
    if raw_submit is not None:
        return _SentDate(None, None, "unparseable", str(raw_submit))
    return _SentDate(None, None, "missing", None)


def _mapi_time(value: object) -> datetime | None:
    """A PT_SYSTIME value in UTC; MAPI's 'no date' markers and impossible years are no date."""
    if not isinstance(value, datetime) or isinstance(value, NullDate):
        return None
    if not 1970 <= value.year <= 2200:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _message_id(msg: MessageBase, headers: email.message.Message | None,
                warnings: list[str]) -> str | None:
    value = _header(headers, "Message-ID", warnings) or _string(msg, "1035")
    return _first_message_id(value)


def _in_reply_to(msg: MessageBase, headers: email.message.Message | None,
                 warnings: list[str]) -> str | None:
    return _first_message_id(_header(headers, "In-Reply-To", warnings) or _string(msg, "1042"))


def _references(msg: MessageBase, headers: email.message.Message | None,
                warnings: list[str]) -> list[str]:
    value = _header(headers, "References", warnings) or _string(msg, "1039") or ""
    return MESSAGE_ID_PATTERN.findall(value)


def _first_message_id(value: str | None) -> str | None:
    if not value:
        return None
    match = MESSAGE_ID_PATTERN.search(value)
    return match.group(0) if match else value.strip() or None


def _conversation_index(msg: MessageBase) -> str | None:
    raw = msg.getStream("__substg1.0_00710102")  # PR_CONVERSATION_INDEX
    return raw.hex() if raw else None


def _categories(msg: MessageBase) -> list[str]:
    value = _safe(lambda: msg.getNamedProp("Keywords", ps.PS_PUBLIC_STRINGS))
    values = value if isinstance(value, list) else [value]
    return [text for text in (_clean(v) for v in values) if text]


def _importance(msg: MessageBase) -> str | None:
    return IMPORTANCE_NAMES.get(msg.getPropertyVal("00170003"))  # PR_IMPORTANCE


# --- Body -------------------------------------------------------------------------------------

def _body(msg: MessageBase, message_class: str, ctx: ParseContext, notes: list[_Note],
          warnings: list[str]) -> tuple[str | None, str | None, str]:
    """(text, HTML as sent, text source): plain text first, then HTML, then the RTF body."""
    plain = _clean(msg.getStringStream("__substg1.0_1000"))
    html = _html_body(msg, warnings)
    if not plain and not html and isinstance(msg, MessageSignedBase):
        plain, html = _signed_bodies(msg, message_class, notes)
    if plain:
        return plain, html, "plain"
    if html:
        return html_to_text(html), html, "html"
    return _rtf_body(msg, ctx, notes, warnings)


def _html_body(msg: MessageBase, warnings: list[str]) -> str | None:
    """PR_HTML: usually binary in the MSG's code page, sometimes stored as a string."""
    raw = msg.getStream("__substg1.0_10130102")
    if raw:
        return _clean(decode_bytes(raw, _html_charset(msg, raw), warnings))
    return _string(msg, "1013")


def _html_charset(msg: MessageBase, raw: bytes) -> str | None:
    """PR_INTERNET_CPID names the HTML body's code page; else its own meta tag, if any."""
    code_page = msg.getPropertyVal("3FDE0003")
    if isinstance(code_page, int):
        try:
            return lookupCodePage(code_page)
        except Exception:  # an unknown or unsupported code page: fall back to the markup
            pass
    match = re.search(rb"charset=[\"']?([A-Za-z0-9_:.-]+)", raw[:4096])
    return match.group(1).decode("ascii") if match else None


def _signed_bodies(msg: MessageSignedBase, message_class: str,
                   notes: list[_Note]) -> tuple[str | None, str | None]:
    """The body inside a clear-signed S/MIME message. An opaque or encrypted one
    (IPM.Note.SMIME) keeps its content in smime.p7m, which is attached as it is."""
    if _is_opaque_smime(message_class):
        return None, None
    try:
        plain = _clean(msg.signedBody)
        html_bytes = msg.signedHtmlBody
    except Exception as exc:  # extract-msg could not unwrap the signed MIME payload
        notes.append(_Note("read s/mime", "encrypted", f"signed payload unreadable: "
                                                         f"{_describe(exc)}"))
        return None, None
    html = _clean(decode_bytes(html_bytes, None, [])) if html_bytes else None
    return plain, html


def _is_opaque_smime(message_class: str) -> bool:
    return message_class.lower().endswith(".smime")


def _rtf_body(msg: MessageBase, ctx: ParseContext, notes: list[_Note],
              warnings: list[str]) -> tuple[str | None, str | None, str]:
    """Outlook often keeps only compressed RTF: most of it wraps HTML or plain text, which
    extract-msg unwraps; a native RTF document goes to Tika like any other document."""
    rtf = _safe(lambda: msg.rtfBody)
    if not rtf:
        return None, None, "none"
    html = _safe(lambda: msg.deencapsulateBody(rtf, DeencapType.HTML))
    if html:
        text = html if isinstance(html, str) else decode_bytes(html, None, warnings)
        return html_to_text(text), text, "html"
    plain = _clean(_safe(lambda: msg.deencapsulateBody(rtf, DeencapType.PLAIN)))
    if plain:
        return plain, None, "plain"
    extraction = ctx.extractor.extract(rtf, "body.rtf", "application/rtf")
    if extraction.error_reason:
        notes.append(_Note("extract text", extraction.error_reason,
                           f"RTF body: {extraction.error_message or ''}"))
    return _clean(extraction.text), None, extraction.source


# --- Class-specific fields --------------------------------------------------------------------

def _fill_class_fields(item: Item, msg: MessageBase) -> None:
    if isinstance(msg, Contact):
        _fill_contact(item, msg)
    elif isinstance(msg, CalendarBase):
        _fill_appointment(item, msg)
    elif isinstance(msg, Task):
        item.due_date = _mapi_time(_safe(lambda: msg.taskDueDate))


def _fill_contact(item: Item, msg: Contact) -> None:
    item.company = _clean(_safe(lambda: msg.companyName))
    item.phone_numbers = _phone_numbers(msg)
    addresses = [*_contact_emails(msg), *_distribution_list_addresses(msg)]
    item.contact_addresses = list(dict.fromkeys(address.lower() for address in addresses))


def _phone_numbers(msg: Contact) -> list[str]:
    numbers: list[str] = []
    for attribute in PHONE_ATTRIBUTES:
        value = _safe(lambda: getattr(msg, attribute))
        for number in value if isinstance(value, list) else [value]:
            cleaned = _clean(number)
            if cleaned and cleaned not in numbers:
                numbers.append(cleaned)
    return numbers


def _contact_emails(msg: Contact) -> list[str]:
    """Email 1-3 of a contact: the SMTP address, or one quoted in its display name."""
    addresses = []
    for entry in _safe(lambda: msg.emails) or ():
        if not entry:
            continue
        address = _clean(entry.get("email_address"))
        if address and _is_smtp(address, _clean(entry.get("address_type"))):
            addresses.append(address)
            continue
        for label in (entry.get("original_display_name"), entry.get("display_name")):
            match = EMBEDDED_ADDRESS.search(_clean(label) or "")
            if match:
                addresses.append(match.group(0))
                break
        else:
            if address:
                addresses.append(address)
    return addresses


def _distribution_list_addresses(msg: Contact) -> list[str]:
    """Members of a distribution list, from PidLidDistributionListOneOffMembers (0x8054)."""
    members = _safe(lambda: msg.getNamedProp("8054", ps.PSETID_ADDRESS)) or []
    addresses = []
    for raw in members if isinstance(members, list) else []:
        entry = _safe(lambda: EntryID.autoCreate(raw))
        address = _clean(getattr(entry, "emailAddress", None))
        if address:
            addresses.append(address)
    return addresses


def _fill_appointment(item: Item, msg: CalendarBase) -> None:
    item.location = _clean(_safe(lambda: msg.location))
    item.start_date = (_mapi_time(_safe(lambda: msg.appointmentStartWhole))
                       or _mapi_time(_safe(lambda: msg.startDate)))
    item.end_date = (_mapi_time(_safe(lambda: msg.appointmentEndWhole))
                     or _mapi_time(_safe(lambda: msg.endDate)))


# --- Attachments and embedded messages --------------------------------------------------------

def _load_attachments(msg: MessageBase, notes: list[_Note]) -> list[Any]:
    """The attachments to read; when extract-msg cannot list them the message is still kept.
    An opaque S/MIME message's only real attachment is its smime.p7m envelope, which
    extract-msg would otherwise try to parse as MIME."""
    message_class = _clean(msg.classType) or ""
    signed = isinstance(msg, MessageSignedBase)
    try:
        if signed and _is_opaque_smime(message_class):
            return list(msg.rawAttachments)
        return list(msg.attachments)
    except Exception as exc:  # extract-msg raises many types for a broken attachment table
        reason = "encrypted" if signed else "corrupt"
        notes.append(_Note("read attachments", reason, _describe(exc)))
        return []


def _attachment_name(attachment: Any, index: int) -> str:
    name = _clean(_safe(lambda: attachment.name))
    if name:
        return name
    if _safe(lambda: attachment.type) in (AttachmentType.MSG, AttachmentType.SIGNED_EMBEDDED):
        return f"message-{index}.msg"
    mime_type = _clean(_safe(lambda: attachment.mimetype))
    return f"attachment-{index}{mimetypes.guess_extension(mime_type or '') or ''}"


def _attachment_items(attachments: list[Any], item: Item, origin: Origin,
                      ctx: ParseContext) -> list[Item]:
    from pipeline.families import child_path

    results: list[Item] = []
    for index, (attachment, name) in enumerate(zip(attachments, item.attachment_names), start=1):
        family_path = child_path(item.family_path, index)
        try:
            results.extend(_one_attachment(attachment, name, item, family_path, origin, ctx))
        except Exception as exc:  # one unreadable attachment must not cost its message
            results.append(_child_exception(origin, item, family_path, "open attachment",
                                            "corrupt", _describe(exc), name))
    return results


def _one_attachment(attachment: Any, name: str, parent: Item, family_path: str,
                    origin: Origin, ctx: ParseContext) -> list[Item]:
    from pipeline.families import blob_items

    kind = attachment.type
    if kind in (AttachmentType.MSG, AttachmentType.SIGNED_EMBEDDED):
        return _embedded_message_items(attachment, name, parent, family_path, origin, ctx)
    data = attachment.data if kind in (AttachmentType.DATA, AttachmentType.SIGNED,
                                       AttachmentType.CUSTOM) else None
    if isinstance(data, bytes):
        mime_type = _clean(_safe(lambda: attachment.mimetype))
        results = blob_items(data, name, mime_type, origin, ctx, parent, family_path)
        if _is_opaque_smime(parent.item_class or "") and PKCS7_ENVELOPED_DATA in data[:64]:
            results.append(exception_item(
                origin, parent.id, "read s/mime", "encrypted",
                f"S/MIME-encrypted message: its content is enveloped in {name}",
                parent.file_name, parent.source_locator))
        return results
    return [_child_exception(origin, parent, family_path, "open attachment",
                             _attachment_problem(kind), _attachment_description(attachment, kind),
                             name)]


def _attachment_problem(kind: Any) -> str:
    return "corrupt" if kind == AttachmentType.BROKEN else "unsupported"


def _attachment_description(attachment: Any, kind: Any) -> str:
    if kind == AttachmentType.WEB:
        url = _clean(_safe(lambda: attachment.url))
        return f"a link to a file stored elsewhere, not its content: {url or 'no address'}"
    return f"extract-msg could not read this attachment ({getattr(kind, 'name', kind)})"


def _embedded_message_items(attachment: Any, name: str, parent: Item, family_path: str,
                            origin: Origin, ctx: ParseContext) -> list[Item]:
    """Serialise the embedded message to standalone MSG bytes and read those, so it is
    hashed and exported like any MSG, and its own attachments recurse the same way."""
    if parent.level + 1 > MAX_FAMILY_DEPTH:
        return [_child_exception(origin, parent, family_path, "open attachment", "too_deep",
                                 f"nesting deeper than {MAX_FAMILY_DEPTH} levels", name)]
    if attachment.type == AttachmentType.SIGNED_EMBEDDED:
        data = attachment.asBytes
    else:
        data = attachment.data.exportBytes(allowBadEmbed=True)
    return _msg_items(data, origin, ctx, parent, family_path, file_name=name)


def _child_exception(origin: Origin, parent: Item, family_path: str, stage: str, reason: str,
                     message: str, file_name: str | None) -> Item:
    """An exception for one child that has no item of its own. Its id comes from the child's
    position, so two broken attachments of one message are two records; it names the parent."""
    record = exception_item(origin, None, stage, reason, message, file_name,
                            _locator(origin, family_path))
    record.exception_item_id = parent.id
    return record
