"""Outlook PST and OST files, read with libpff-python (pypff), in parallel message ranges.

Work units. `plan` opens the file in the worker and walks its folders depth-first (a folder's own
messages, then its sub-folders in index order), numbering every message 0, 1, 2 ... in that order.
A unit with `start >= 0` reads the messages whose number is in `[start, end)`. What belongs to the
file rather than to a folder (orphan and recovered (deleted) items, folders that could not be
read, and the notice that the PST has a password) is read by a unit with `end` None: the unit
(0, None) reads every message and then these, and the unit with `start == FILE_UNIT_START` (-1)
reads only these. A file of up to MESSAGES_PER_UNIT messages, the common case, plans the one unit
(0, None); a larger one plans its message ranges and the FILE_UNIT_START unit. A file that cannot
be opened plans (0, None) too, whose `read` reports why.

Where pypff falls short, `pffexport` (Debian's pff-tools, the same libpff) is run, at most once
per unit as a rule (see PffExport), in a temporary folder, and its output is read instead:
- an embedded message (attach method 5) that pypff shows without a sub-item, e.g. the message
  inside ruby-msg/msgInMsg.pst, or an item type that pypff gives no attachments API although the
  item has attachments;
- recovered items: pypff lists orphan items but has no recovery scan (`pffexport -m recovered`).
`pffexport -d` writes every item's MAPI properties to ItemValues.txt, so both paths fill the same
property bag (`Props`) and become items through the same code. When pffexport is missing, an
exception record (reason `fallback_unavailable`) names what could not be read.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import tempfile
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.parser import HeaderParser
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Union

from pipeline import ids
from pipeline.decoding import decode_bytes, format_address, html_to_text, parse_date
from pipeline.families import (PositionedStream, blob_items, child_path, stream_hashes,
                               streamed_blob_items)
from pipeline.item_classes import item_type_for
from pipeline.mail import MAX_FAMILY_DEPTH, Origin, ParseContext, exception_item, family_item_id
from pipeline.records import Item, SourceFile, WorkUnit
from pipeline.rtf import codec_for_codepage, encapsulated_html, rtf_to_text
from pipeline.sources.base import SourceReader

PST_MAGIC = b"!BDN"
OST_CLIENT_MAGIC = b"SO"
MESSAGES_PER_UNIT = 500          # messages per work unit; a unit is one Spark task
FILE_UNIT_START = -1             # WorkUnit.start of the unit for orphan and recovered items
PFFEXPORT_COMMAND = "pffexport"  # looked up on PATH when a fallback is needed
PFFEXPORT_TIMEOUT_SECONDS = 6 * 3600

# ---------------------------------------------------------------------------------------------
# MAPI property tags (MS-OXPROPS). Named properties are keyed ("lid", number) or ("name", text).

PR_IMPORTANCE = 0x0017
PR_MESSAGE_CLASS = 0x001A
PR_SUBJECT = 0x0037
PR_CLIENT_SUBMIT_TIME = 0x0039
PR_SENT_REPRESENTING_NAME = 0x0042
PR_SENT_REPRESENTING_ADDRTYPE = 0x0064
PR_SENT_REPRESENTING_EMAIL = 0x0065
PR_CONVERSATION_INDEX = 0x0071
PR_TRANSPORT_MESSAGE_HEADERS = 0x007D
PR_RECIPIENT_TYPE = 0x0C15
PR_SENDER_NAME = 0x0C1A
PR_SENDER_ADDRTYPE = 0x0C1E
PR_SENDER_EMAIL = 0x0C1F
PR_MESSAGE_DELIVERY_TIME = 0x0E06
PR_MESSAGE_FLAGS = 0x0E07
PR_MESSAGE_SIZE = 0x0E08
PR_ATTACH_SIZE = 0x0E20
PR_ENTRYID = 0x0FFF
PR_BODY = 0x1000
PR_HTML = 0x1013
PR_INTERNET_MESSAGE_ID = 0x1035
PR_INTERNET_REFERENCES = 0x1039
PR_IN_REPLY_TO_ID = 0x1042
PR_DISPLAY_NAME = 0x3001
PR_ADDRTYPE = 0x3002
PR_EMAIL_ADDRESS = 0x3003
PR_CREATION_TIME = 0x3007
PR_ATTACH_FILENAME = 0x3704
PR_ATTACH_METHOD = 0x3705
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_PATHNAME = 0x3708
PR_ATTACH_LONG_PATHNAME = 0x370D
PR_ATTACH_MIME_TAG = 0x370E
PR_SMTP_ADDRESS = 0x39FE
PR_COMPANY_NAME = 0x3A16
PR_INTERNET_CPID = 0x3FDE
PR_MESSAGE_CODEPAGE = 0x3FFD
PR_SENDER_SMTP_ADDRESS = 0x5D01
PR_SENT_REPRESENTING_SMTP_ADDRESS = 0x5D02
PR_RECIPIENT_DISPLAY_NAME = 0x5FF6
PR_RECIPIENT_ENTRYID = 0x5FF7
PR_PST_PASSWORD = 0x67FF

MSGFLAG_HASATTACH = 0x10
ATTACH_BY_VALUE, ATTACH_EMBEDDED_MSG, ATTACH_OLE = 1, 5, 6
ATTACH_BY_REFERENCE_METHODS = {2: "by reference", 3: "by reference (resolve)",
                               4: "by reference (only)", 7: "by web reference"}

# Named properties: the LIDs of PSETID_Appointment, _Task, _Address and _Common do not collide,
# so the property set's GUID is not needed to tell them apart.
LID_LOCATION = ("lid", 0x8208)
LID_APPOINTMENT_START = ("lid", 0x820D)
LID_APPOINTMENT_END = ("lid", 0x820E)
LID_COMMON_START = ("lid", 0x8516)
LID_COMMON_END = ("lid", 0x8517)
LID_TASK_START = ("lid", 0x8104)
LID_TASK_DUE = ("lid", 0x8105)
LID_EMAILS = ((("lid", 0x8080), ("lid", 0x8082), ("lid", 0x8083), ("lid", 0x8084)),
              (("lid", 0x8090), ("lid", 0x8092), ("lid", 0x8093), ("lid", 0x8094)),
              (("lid", 0x80A0), ("lid", 0x80A2), ("lid", 0x80A3), ("lid", 0x80A4)))
LID_DL_MEMBERS = ("lid", 0x8055)
LID_DL_ONE_OFF_MEMBERS = ("lid", 0x8054)
NAME_KEYWORDS = ("name", "keywords")

CONTACT_PHONES = ((0x3A08, "business"), (0x3A1B, "business 2"), (0x3A09, "home"),
                  (0x3A2F, "home 2"), (0x3A1C, "mobile"), (0x3A1A, "primary"),
                  (0x3A57, "company"), (0x3A24, "business fax"), (0x3A25, "home fax"),
                  (0x3A23, "primary fax"), (0x3A1E, "car"), (0x3A21, "pager"),
                  (0x3A2E, "assistant"), (0x3A02, "callback"), (0x3A1F, "other"),
                  (0x3A1D, "radio"), (0x3A2C, "telex"), (0x3A2D, "isdn"), (0x3A4B, "tty"))
CONTACT_NAME_FIELDS = ((0x3A06, "Given name"), (0x3A11, "Surname"), (0x3A17, "Job title"),
                       (0x3A18, "Department"), (0x3A16, "Company"))

ONE_OFF_PROVIDER = bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")
WRAPPED_PROVIDER = bytes.fromhex("C091ADD3519DCF11A4A900AA0047FAA4")

PT_SHORT, PT_LONG, PT_BOOLEAN, PT_LONGLONG = 0x0002, 0x0003, 0x000B, 0x0014
PT_STRING8, PT_UNICODE, PT_SYSTIME, PT_BINARY = 0x001E, 0x001F, 0x0040, 0x0102
PT_MV_STRING8, PT_MV_UNICODE, PT_MV_BINARY = 0x101E, 0x101F, 0x1102

PropKey = Union[int, tuple]
Problem = tuple[str, str, str]   # (stage, reason, message): what could not be read, and why


class FallbackUnavailable(Exception):
    """pffexport is not installed."""


class FallbackFailed(Exception):
    """pffexport ran but could not give what was asked for."""


def filetime_to_datetime(raw: bytes | None) -> datetime | None:
    """A FILETIME in UTC; 0 and Outlook's 'none' date (4501-01-01) are no date."""
    if not raw or len(raw) < 8:
        return None
    ticks = int.from_bytes(raw[:8], "little")
    try:
        value = datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=ticks // 10)
    except OverflowError:
        return None
    return value if 1900 <= value.year <= 2200 else None


def multi_values(raw: bytes) -> list[bytes]:
    """A variable-size multi-valued property as a PST stores it: count, offsets, then values."""
    if len(raw) < 4:
        return []
    count = int.from_bytes(raw[:4], "little")
    if count <= 0 or 4 + 4 * count > len(raw):
        return []
    offsets = list(struct.unpack_from(f"<{count}I", raw, 4)) + [len(raw)]
    return [raw[start:end] for start, end in zip(offsets, offsets[1:]) if start <= end]


@dataclass
class Props:
    """One MAPI property bag: key -> (value type, raw bytes), as libpff read it."""

    values: dict[PropKey, tuple[int, bytes | None]] = field(default_factory=dict)
    codepage: str = "cp1252"   # for 8-bit strings (PT_STRING8)

    def __post_init__(self) -> None:
        self.codepage = codec_for_codepage(self.integer(PR_MESSAGE_CODEPAGE)) or self.codepage

    def raw(self, key: PropKey) -> bytes | None:
        entry = self.values.get(key)
        return entry[1] if entry else None

    def value_type(self, key: PropKey) -> int | None:
        entry = self.values.get(key)
        return entry[0] if entry else None

    def _decode(self, data: bytes, value_type: int) -> str:
        if value_type in (PT_UNICODE, PT_MV_UNICODE):
            text = data.decode("utf-16-le", errors="replace")
        else:
            text = decode_bytes(data, self.codepage, [])
        return text.split("\x00", 1)[0]

    def text(self, key: PropKey) -> str | None:
        entry = self.values.get(key)
        if not entry or entry[1] is None or entry[0] not in (PT_UNICODE, PT_STRING8):
            return None
        return self._decode(entry[1], entry[0]).strip() or None

    def texts(self, key: PropKey) -> list[str]:
        entry = self.values.get(key)
        if not entry or entry[1] is None:
            return []
        if entry[0] in (PT_MV_UNICODE, PT_MV_STRING8):
            values = (self._decode(value, entry[0]).strip() for value in multi_values(entry[1]))
            return [value for value in values if value]
        single = self.text(key)
        return [single] if single else []

    def binaries(self, key: PropKey) -> list[bytes]:
        entry = self.values.get(key)
        if not entry or entry[1] is None:
            return []
        return multi_values(entry[1]) if entry[0] == PT_MV_BINARY else [entry[1]]

    def integer(self, key: PropKey) -> int | None:
        entry = self.values.get(key)
        if not entry or not entry[1] or entry[0] not in (PT_SHORT, PT_LONG, PT_BOOLEAN,
                                                         PT_LONGLONG):
            return None
        return int.from_bytes(entry[1], "little", signed=entry[0] != PT_BOOLEAN)

    def time(self, key: PropKey) -> datetime | None:
        entry = self.values.get(key)
        if not entry or entry[0] != PT_SYSTIME:
            return None
        return filetime_to_datetime(entry[1])


@dataclass
class RawAttachment:
    index: int                         # 1-based, as Outlook and pffexport number them
    name: str
    mime_type: str | None = None
    data: bytes | None = None          # a file attachment's bytes
    embedded: RawMessage | None = None
    problem: Problem | None = None     # neither data nor an embedded message could be read
    # Instead of data: a fresh stream of a file attachment's `size` bytes, valid while the PST
    # (or pffexport's output) is open. Read whole when it is within ingest.max_attachment_bytes.
    stream: Callable[[], BinaryIO] | None = None
    size: int = 0
    # (MD5, SHA-256, size) of a streamed attachment, kept from the message's content hash so
    # that a large attachment is read through once for its hashes, not twice.
    digest: tuple[str, str, int] | None = None


@dataclass
class RawMessage:
    """One Outlook item as read, from pypff or from pffexport's output."""

    props: Props
    recipients: list[Props] = field(default_factory=list)
    rtf: bytes | None = None           # decompressed RTF body
    attachments: list[RawAttachment] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    _hashes: tuple[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def message_class(self) -> str:
        return self.props.text(PR_MESSAGE_CLASS) or "IPM.Note"

    @property
    def subject(self) -> str | None:
        subject = self.props.text(PR_SUBJECT)
        # A subject may start with \x01 and one character giving the prefix's length.
        if subject and subject.startswith("\x01"):
            subject = subject[2:]
        return subject or None

    def content_hashes(self) -> tuple[str, str]:
        """(md5, sha256) of a canonical serialisation of what was read: what a reviewer sees,
        not Outlook's flags and timestamps of handling, so copies of a message hash alike."""
        if self._hashes is None:
            md5, sha256 = hashlib.md5(), hashlib.sha256()
            for part in self._canonical_parts():
                encoded = (part or "").encode("utf-8", "surrogatepass")
                for digest in (md5, sha256):
                    digest.update(str(len(encoded)).encode("ascii") + b":" + encoded)
            self._hashes = md5.hexdigest(), sha256.hexdigest()
        return self._hashes

    def content_sha256(self) -> str:
        return self.content_hashes()[1]

    def _canonical_parts(self) -> Iterator[str | None]:
        props = self.props
        yield self.message_class
        yield self.subject
        for key in (PR_SENT_REPRESENTING_NAME, PR_SENDER_NAME, PR_SENDER_SMTP_ADDRESS,
                    PR_SENT_REPRESENTING_SMTP_ADDRESS, PR_TRANSPORT_MESSAGE_HEADERS,
                    PR_INTERNET_MESSAGE_ID, PR_BODY):
            yield props.text(key)
        for key in (PR_CLIENT_SUBMIT_TIME, PR_HTML, LID_APPOINTMENT_START, LID_TASK_DUE):
            yield (props.raw(key) or b"").hex()
        yield (self.rtf or b"").hex() if not props.text(PR_BODY) else ""
        for recipient in self.recipients:
            yield "|".join(recipient.text(key) or "" for key in (PR_DISPLAY_NAME,
                                                                 PR_EMAIL_ADDRESS,
                                                                 PR_SMTP_ADDRESS))
        for attachment in self.attachments:
            yield attachment.name
            if attachment.embedded is not None:
                yield attachment.embedded.content_sha256()
            elif attachment.data is not None:
                yield hashlib.sha256(attachment.data).hexdigest()
            elif attachment.stream is not None:
                attachment.digest = attachment.digest or stream_hashes(attachment.stream)
                yield attachment.digest[1]


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


# ---------------------------------------------------------------------------------------------
# pffexport: the fallback, run in a temporary folder, once per unit as a rule (see PffExport).

# pffexport 20180714 names an item's folder by its type and number (strings in the binary).
ITEM_DIR_NAME = re.compile(r"^(Message|Appointment|Contact|DistributionList|Task|Note|Meeting"
                           r"|Activity|Document|Feed|Item)\d{5}$")
EMBEDDED_DIR_NAME = re.compile(r"^Attachment(\d{5})$")
NAMED_FILE = re.compile(r"^(\d+)_(.+)$")
UNNAMED_FILE = re.compile(r"^Attachment(\d{5})(\..*)?$")
ITEM_VALUES_FIELD = re.compile(r"^(Set|Entry type|Value type|Maps to entry type|Maps to entry"
                               r"|Value):\s*(.*)$")
HEX_PREFIX = 12   # "0x00000000: "
HEX_WIDTH = 49    # 16 bytes as "xx " with one extra space in the middle


def parse_item_values(text: str) -> list[dict[PropKey, tuple[int, bytes | None]]]:
    """pffexport -d's ItemValues.txt: one property dict per set (a recipient, an attachment)."""
    sets: dict[int, dict[PropKey, tuple[int, bytes | None]]] = {}
    current: dict[str, Any] | None = None

    def finish() -> None:
        if current and "type" in current:
            readable = current["has_value"] and not current["damaged"]
            sets.setdefault(current["set"], {})[current["key"]] = (
                current.get("value_type", 0), bytes(current["data"]) if readable else None)

    for line in text.splitlines():
        if line.startswith("0x") and current is not None and current["has_value"]:
            try:
                current["data"].extend(bytes.fromhex(line[HEX_PREFIX:HEX_PREFIX + HEX_WIDTH]))
            except ValueError:   # a line not in the expected layout: the value is unknown
                current["damaged"] = True
            continue
        match = ITEM_VALUES_FIELD.match(line)
        if not match:
            continue
        name, value = match.groups()
        if name == "Set":
            finish()
            current = {"set": int(value), "data": bytearray(), "has_value": False,
                       "damaged": False}
        elif current is None:
            continue
        elif name == "Entry type":
            current["type"] = int(value, 16)
            current["key"] = current["type"] if current["type"] < 0x8000 else ("tag",
                                                                               current["type"])
        elif name == "Value type":
            current["value_type"] = int(value, 16)
        elif name == "Maps to entry type":
            current["key"] = ("lid", int(value, 16))
        elif name == "Maps to entry":
            current["key"] = ("name", value.strip().lower())
        elif name == "Value":
            current["has_value"] = True
    finish()
    return [sets[index] for index in sorted(sets)]


def _read_item_values(path: Path) -> list[dict[PropKey, tuple[int, bytes | None]]]:
    if not path.is_file():
        return []
    return parse_item_values(path.read_text(encoding="utf-8", errors="replace"))


def is_export_item_dir(directory: Path) -> bool:
    """An exported item (not a folder): pffexport names it Message00001, Contact00002 ..."""
    return ITEM_DIR_NAME.match(directory.name) is not None and directory.is_dir()


def export_message(directory: Path, depth: int = 0) -> RawMessage:
    """One item from pffexport's output folder, its embedded items read recursively."""
    sets = _read_item_values(directory / "ItemValues.txt")
    message = RawMessage(props=Props(sets[0] if sets else {}))
    if not sets:
        message.problems.append(("read message", "corrupt",
                                 f"pffexport wrote no properties for {directory.name}"))
    message.recipients = [Props(values) for values in
                          _read_item_values(directory / "RecipientsItemValues.txt")]
    rtf = directory / "Message.rtf"
    message.rtf = rtf.read_bytes() if rtf.is_file() else None
    message.attachments = _export_attachments(directory / "Attachments", depth)
    return message


def _export_attachments(directory: Path, depth: int) -> list[RawAttachment]:
    if not directory.is_dir():
        return []
    table = _read_item_values(directory / "ItemValues.txt")   # one set per attachment
    attachments = []
    for entry in sorted(directory.iterdir()):
        attachment = _export_attachment(entry, table, depth)
        if attachment is not None:
            attachments.append(attachment)
    return sorted(attachments, key=lambda attachment: attachment.index)


def _export_attachment(entry: Path, table: list[dict], depth: int) -> RawAttachment | None:
    embedded = EMBEDDED_DIR_NAME.match(entry.name)
    if embedded and entry.is_dir():
        index = int(embedded.group(1))
        items = sorted(child for child in entry.iterdir() if is_export_item_dir(child))
        if not items:
            return RawAttachment(index, entry.name, problem=(
                "read attachment", "corrupt", "pffexport wrote no item for this attachment"))
        if depth >= MAX_FAMILY_DEPTH:
            return RawAttachment(index, entry.name, problem=(
                "open attachment", "too_deep", f"nesting deeper than {MAX_FAMILY_DEPTH} levels"))
        inner = export_message(items[0], depth + 1)
        props = Props(table[index - 1]) if 0 < index <= len(table) else Props()
        name = props.text(PR_DISPLAY_NAME) or inner.subject or f"message-{index}"
        return RawAttachment(index, name, embedded=inner)
    named, unnamed = NAMED_FILE.match(entry.name), UNNAMED_FILE.match(entry.name)
    if entry.is_file() and (named or unnamed):
        index = int((named or unnamed).group(1))
        name = named.group(2) if named else f"attachment-{index}{unnamed.group(2) or ''}"
        return RawAttachment(index, name, stream=lambda: open(entry, "rb"),
                             size=entry.stat().st_size)
    return None


# pffexport's outputs: -m <output> writes <target><suffix>; -m all writes both.
EXPORT_FOLDER_SUFFIXES = {"items": ".export", "recovered": ".recovered"}


class PffExport:
    """pffexport's outputs for one PST: "items" (every item, for what pypff cannot expose) and
    "recovered" (the recovery scan's deleted items).

    pffexport runs on first use. Asked for the items first, it runs `-m all`, which costs about
    what `-m items` does and writes the recovered items as well, so a unit that reads messages
    and then recovered items runs it once. Asked for the recovered items first, it runs the much
    cheaper `-m recovered`; only a later request for the items then runs it a second time.

    pffexport cannot export part of a file, so a large PST, read as many units, would be
    exported whole by each of them. Given `shared_in` (the run's scratch folder,
    `ingest.scratch_dir`), the outputs are shared by every unit that sees that folder: the first
    to need one runs pffexport under a lock on the PST's folder there, and records how it went;
    the others wait for the lock and read the same outputs, or the same failure. The job removes
    the scratch folder after its read stage. Without it, the outputs are in a temporary folder
    of this object's own, removed by close().
    """

    def __init__(self, pst_path: str, shared_in: str | None = None) -> None:
        self.pst_path = pst_path
        self._shared = _shared_export_dir(pst_path, shared_in) if shared_in else None
        self._temp: tempfile.TemporaryDirectory | None = None
        self._roots: dict[str, Path] = {}
        self._errors: dict[str, Exception] = {}
        self._fingerprints: dict[Path, tuple] = {}
        self._all_items: dict[str, list[Path]] = {}

    def root(self, output: str = "items") -> Path:
        if output in self._errors:
            raise self._errors[output]
        if output not in self._roots:
            first_run = not self._roots and not self._errors
            mode = "all" if output == "items" and first_run else output
            outputs = list(EXPORT_FOLDER_SUFFIXES) if mode == "all" else [output]
            try:
                found = self._run(mode, outputs)
            except (FallbackUnavailable, FallbackFailed) as exc:
                found = dict.fromkeys(outputs, exc)
            for name, result in found.items():
                if isinstance(result, Exception):
                    self._errors[name] = result
                else:
                    self._roots[name] = result
            if output in self._errors:
                raise self._errors[output]
        return self._roots[output]

    def _run(self, mode: str, outputs: list[str]) -> dict[str, Path | FallbackFailed]:
        command = shutil.which(PFFEXPORT_COMMAND)
        if command is None:
            raise FallbackUnavailable(f"{PFFEXPORT_COMMAND} (Debian package pff-tools) is not "
                                      "installed")
        if self._shared is not None:
            return self._run_shared(command, mode, outputs)
        if self._temp is None:
            self._temp = tempfile.TemporaryDirectory(prefix="trawl-pffexport-")
        target = Path(self._temp.name) / mode   # a second run writes beside the first
        return _export_outputs(target, _run_pffexport(command, mode, target, self.pst_path),
                               outputs)

    def _run_shared(self, command: str, mode: str,
                    outputs: list[str]) -> dict[str, Path | FallbackFailed]:
        import fcntl
        import json

        assert self._shared is not None
        self._shared.mkdir(parents=True, exist_ok=True)
        with open(self._shared / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # released when the file is closed
            # A run of another unit may cover these outputs already: -m all covers both.
            for done in dict.fromkeys(("all", mode)):
                record = self._shared / f"{done}.json"
                if record.is_file() and (done == "all" or outputs == [done]):
                    outcome = json.loads(record.read_text(encoding="utf-8"))
                    return _export_outputs(self._shared / done, outcome, outputs)
            target = self._shared / mode
            # A run with no record was cut short (its task killed): pffexport will not write
            # over what it left.
            for suffix in EXPORT_FOLDER_SUFFIXES.values():
                shutil.rmtree(target.with_name(target.name + suffix), ignore_errors=True)
            outcome = _run_pffexport(command, mode, target, self.pst_path)
            (self._shared / f"{mode}.json").write_text(json.dumps(outcome), encoding="utf-8")
            return _export_outputs(target, outcome, outputs)

    def item_dirs(self, output: str = "items", under: Path | None = None) -> list[Path]:
        """Exported items outside attachments, in a stable order."""
        if under is not None:
            return self._scan(output, under)
        if output not in self._all_items:
            self._all_items[output] = self._scan(output, self.root(output))
        return self._all_items[output]

    def _scan(self, output: str, under: Path) -> list[Path]:
        root = self.root(output)
        return [directory for directory in sorted(under.rglob("*"))
                if "Attachments" not in directory.relative_to(root).parts
                and is_export_item_dir(directory)]

    def find_item(self, props: Props, folder_path: str) -> Path:
        """The exported folder of a pypff item: same class, subject, times and size."""
        wanted = fingerprint(props)
        # pffexport names folders as the PST does, so the item is usually under the same path.
        preferred = self.root() / folder_path
        candidates = (self.item_dirs("items", preferred) if folder_path and preferred.is_dir()
                      else [])
        for directory in candidates + self.item_dirs():
            if self._fingerprint(directory) == wanted:
                return directory
        raise FallbackFailed("pffexport's output holds no item with this item's properties")

    def _fingerprint(self, directory: Path) -> tuple:
        if directory not in self._fingerprints:
            sets = _read_item_values(directory / "ItemValues.txt")
            self._fingerprints[directory] = fingerprint(Props(sets[0])) if sets else ()
        return self._fingerprints[directory]

    def close(self) -> None:
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None


def _shared_export_dir(pst_path: str, shared_in: str) -> Path | None:
    """The PST's folder in the shared scratch: named by its path, size and modification time,
    so that a file replaced under the same name is exported again."""
    try:
        status = os.stat(pst_path)
    except OSError:   # pffexport will say why it cannot read it; nothing to share
        return None
    key = f"{os.path.realpath(pst_path)}\0{status.st_size}\0{status.st_mtime_ns}"
    return Path(shared_in) / "pffexport" / hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _run_pffexport(command: str, mode: str, target: Path, pst_path: str) -> dict[str, Any]:
    """Run pffexport -m `mode` into `target`; how it went, as the JSON the shared export keeps:
    its exit code and last lines, or why it could not run."""
    try:
        completed = subprocess.run(
            [command, "-d", "-f", "all", "-q", "-m", mode, "-t", str(target), pst_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=PFFEXPORT_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        return {"failed": f"pffexport timed out after {exc.timeout} seconds"}
    except OSError as exc:
        return {"failed": f"pffexport could not run: {exc}"}
    tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
    return {"returncode": completed.returncode, "stderr_tail": " ".join(tail)}


def _export_outputs(target: Path, outcome: dict[str, Any],
                    outputs: list[str]) -> dict[str, Path | FallbackFailed]:
    """Each output's folder beside `target`, or why pffexport did not write it."""
    if "failed" in outcome:
        raise FallbackFailed(outcome["failed"])
    found: dict[str, Path | FallbackFailed] = {}
    for output in outputs:
        folder = target.with_name(target.name + EXPORT_FOLDER_SUFFIXES[output])
        if outcome["returncode"] != 0 and not folder.is_dir():
            found[output] = FallbackFailed(f"pffexport exited with {outcome['returncode']}: "
                                           + outcome["stderr_tail"])
        else:
            folder.mkdir(exist_ok=True)   # no recovered items: pffexport may write nothing
            found[output] = folder
    return found


def fingerprint(props: Props) -> tuple:
    return tuple(props.raw(key) for key in (PR_MESSAGE_CLASS, PR_SUBJECT, PR_CREATION_TIME,
                                            PR_MESSAGE_SIZE, PR_CLIENT_SUBMIT_TIME,
                                            PR_MESSAGE_DELIVERY_TIME))


@dataclass(frozen=True)
class ExportRef:
    """Where a pypff item is in pffexport's output: a top-level item, then attachment numbers."""

    folder_path: str
    top_props: Props | None = None
    attachment_chain: tuple[int, ...] = ()

    def child(self, index: int) -> ExportRef:
        return ExportRef(self.folder_path, self.top_props, self.attachment_chain + (index,))

    def resolve(self, export: PffExport) -> Path:
        directory = export.find_item(self.top_props, self.folder_path)
        for index in self.attachment_chain:
            holder = directory / "Attachments" / f"Attachment{index:05d}"
            items = sorted(child for child in holder.iterdir() if is_export_item_dir(child)) \
                if holder.is_dir() else []
            if not items:
                raise FallbackFailed(f"pffexport wrote no embedded item for attachment {index}")
            directory = items[0]
        return directory


# ---------------------------------------------------------------------------------------------
# pypff: the main path.

def pypff_name_map(pst: Any) -> dict[int, PropKey]:
    """Named property tags (0x8000 and up) of this file -> ("lid", n) or ("name", text).

    pypff 20260926's name_to_id_map_entry exposes nothing, so the map's streams (MS-PST 2.4.7)
    are parsed here: entries of 8 bytes (property id or string offset, guid index with the
    string flag in bit 0, property index), strings as a 4-byte length and UTF-16LE.
    """
    streams: dict[int, bytes] = {}
    record_set = pst.name_to_id_map.get_record_set(0)
    for entry in record_set.entries:
        if entry.entry_type in (0x0003, 0x0004):
            streams[entry.entry_type] = entry.data or b""
    entries, strings = streams.get(0x0003, b""), streams.get(0x0004, b"")
    mapping: dict[int, PropKey] = {}
    for offset in range(0, len(entries) - 7, 8):
        property_id, guid_and_kind, index = struct.unpack_from("<IHH", entries, offset)
        if guid_and_kind & 1:
            length = int.from_bytes(strings[property_id:property_id + 4], "little")
            name = strings[property_id + 4:property_id + 4 + length].decode("utf-16-le",
                                                                             "replace")
            mapping[0x8000 + index] = ("name", name.lower())
        else:
            mapping[0x8000 + index] = ("lid", property_id)
    return mapping


def _record_set_props(record_set: Any, names: dict[int, PropKey]) -> Props:
    values: dict[PropKey, tuple[int, bytes | None]] = {}
    for entry in record_set.entries:
        tag = entry.entry_type
        key = tag if tag < 0x8000 else names.get(tag, ("tag", tag))
        try:
            values[key] = (entry.value_type, entry.data)
        except Exception:  # pypff raises OSError or MemoryError for unreadable values
            values[key] = (entry.value_type, None)
    return Props(values)


class PffAttachmentStream(PositionedStream):
    """A pypff attachment's bytes as a seekable stream, read a block at a time: pypff reads at
    any offset, so an archive attached to a message is listed without holding it."""

    def __init__(self, attachment: Any) -> None:
        super().__init__(attachment.size or 0)
        self._attachment = attachment

    def read_at(self, position: int, size: int) -> bytes:
        self._attachment.seek_offset(position, os.SEEK_SET)
        return self._attachment.read_buffer(size)


class PypffReader:
    """Turns pypff items into RawMessages, calling on pffexport where pypff falls short."""

    def __init__(self, names: dict[int, PropKey], export: PffExport,
                 max_attachment_bytes: int | None = None) -> None:
        self.names = names
        self.export = export
        self.max_attachment_bytes = max_attachment_bytes

    def message(self, item: Any, ref: ExportRef, depth: int = 0) -> RawMessage:
        message = RawMessage(props=_record_set_props(item.get_record_set(0), self.names))
        if ref.top_props is None:   # a top-level item: pffexport's copy is found by these
            ref = ExportRef(ref.folder_path, message.props)
        message.recipients = self._recipients(item, message.problems)
        message.rtf = self._rtf(item, message.problems)
        message.attachments = self._attachments(item, message, ref, depth)
        return message

    def _recipients(self, item: Any, problems: list[Problem]) -> list[Props]:
        # pypff has no per-recipient API: the recipient table is a record set per recipient.
        try:
            table = getattr(item, "recipients", None)
            if table is None:
                return []
            return [_record_set_props(table.get_record_set(index), self.names)
                    for index in range(table.number_of_record_sets)]
        except Exception as exc:  # pypff raises OSError or MemoryError on damaged data
            problems.append(("read recipients", "corrupt", _describe(exc)))
            return []

    def _rtf(self, item: Any, problems: list[Problem]) -> bytes | None:
        try:
            return getattr(item, "rtf_body", None)
        except Exception as exc:  # pypff raises OSError or MemoryError on damaged data
            problems.append(("read rtf body", "corrupt", _describe(exc)))
            return None

    def _attachments(self, item: Any, message: RawMessage, ref: ExportRef,
                     depth: int) -> list[RawAttachment]:
        if not hasattr(item, "number_of_attachments"):
            # Not a pypff.message: pypff has no attachments API for this item type.
            flags = message.props.integer(PR_MESSAGE_FLAGS) or 0
            return self._exported_attachments(ref, message) if flags & MSGFLAG_HASATTACH else []
        try:
            count = item.number_of_attachments
        except Exception as exc:  # pypff raises OSError or MemoryError on damaged data
            message.problems.append(("read attachments", "corrupt", _describe(exc)))
            return []
        attachments = []
        for index in range(1, count + 1):
            try:
                attachments.append(self._attachment(item.get_attachment(index - 1), index, ref,
                                                    depth))
            except Exception as exc:  # one unreadable attachment must not cost the others
                attachments.append(RawAttachment(index, f"attachment-{index}", problem=(
                    "read attachment", "corrupt", _describe(exc))))
        return attachments

    def _exported_attachments(self, ref: ExportRef, message: RawMessage) -> list[RawAttachment]:
        what = f"the attachments of this {message.message_class} item (no attachments API in pypff)"
        try:
            return export_message(ref.resolve(self.export)).attachments
        except FallbackUnavailable as exc:
            message.problems.append(("read attachments", "fallback_unavailable",
                                     f"{what} were not read: {exc}"))
        except (FallbackFailed, OSError, ValueError) as exc:
            message.problems.append(("read attachments", "corrupt",
                                     f"{what} were not read: {exc}"))
        return []

    def _attachment(self, attachment: Any, index: int, ref: ExportRef,
                    depth: int) -> RawAttachment:
        props = _record_set_props(attachment.get_record_set(0), self.names)
        method = props.integer(PR_ATTACH_METHOD) or ATTACH_BY_VALUE
        name = (props.text(PR_ATTACH_LONG_FILENAME) or props.text(PR_ATTACH_FILENAME)
                or props.text(PR_DISPLAY_NAME))
        if method == ATTACH_EMBEDDED_MSG:
            return self._embedded(attachment, index, name, ref.child(index), depth)
        if method in ATTACH_BY_REFERENCE_METHODS:
            target = props.text(PR_ATTACH_LONG_PATHNAME) or props.text(PR_ATTACH_PATHNAME)
            return RawAttachment(index, name or f"attachment-{index}", problem=(
                "read attachment", "unsupported",
                f"attachment {ATTACH_BY_REFERENCE_METHODS[method]} to {target!r}: its content "
                "is not stored in the PST"))
        size = attachment.size or 0
        name, mime_type = name or f"attachment-{index}", props.text(PR_ATTACH_MIME_TAG)
        if self.max_attachment_bytes is not None and size > self.max_attachment_bytes:
            return RawAttachment(index, name, mime_type, size=size,
                                 stream=lambda: io.BufferedReader(PffAttachmentStream(attachment)))
        data = attachment.read_buffer(size) if size else b""
        return RawAttachment(index, name, mime_type, data=data)

    def _embedded(self, attachment: Any, index: int, name: str | None, ref: ExportRef,
                  depth: int) -> RawAttachment:
        if depth >= MAX_FAMILY_DEPTH:
            return RawAttachment(index, name or f"message-{index}", problem=(
                "open attachment", "too_deep", f"nesting deeper than {MAX_FAMILY_DEPTH} levels"))
        if attachment.number_of_sub_items > 0:
            inner = self.message(attachment.get_sub_item(0), ref, depth + 1)
        else:
            inner = self._embedded_from_export(index, name, ref)
            if isinstance(inner, RawAttachment):
                return inner
        return RawAttachment(index, name or inner.subject or f"message-{index}", embedded=inner)

    def _embedded_from_export(self, index: int, name: str | None,
                              ref: ExportRef) -> RawMessage | RawAttachment:
        # pypff shows this embedded message with no sub-item (ruby-msg/msgInMsg.pst).
        what = (f"embedded message in attachment {index} ({name or 'no name'}), which pypff "
                "does not expose")
        try:
            return export_message(ref.resolve(self.export))
        except FallbackUnavailable as exc:
            return RawAttachment(index, name or f"message-{index}", problem=(
                "read embedded message", "fallback_unavailable", f"{what}, was not read: {exc}"))
        except (FallbackFailed, OSError, ValueError) as exc:
            return RawAttachment(index, name or f"message-{index}", problem=(
                "read embedded message", "corrupt", f"{what}, was not read either by pffexport: "
                f"{exc}"))


# ---------------------------------------------------------------------------------------------
# RawMessage -> items.

def _html_body(props: Props, warnings: list[str]) -> str | None:
    data = props.raw(PR_HTML)
    if not data:
        return None
    if props.value_type(PR_HTML) == PT_UNICODE:
        return data.decode("utf-16-le", errors="replace")
    charset = codec_for_codepage(props.integer(PR_INTERNET_CPID))
    return decode_bytes(data, charset, warnings)


def _body(message: RawMessage, warnings: list[str]) -> tuple[str, str | None, str]:
    """(body text, HTML, text source): plain text, else HTML, else RTF."""
    plain = message.props.text(PR_BODY)
    html = _html_body(message.props, warnings)
    if plain and plain.strip():
        return plain.replace("\r\n", "\n").strip(), html, "plain"
    if html and html.strip():
        return html_to_text(html), html, "html"
    if message.rtf:
        text, rtf_html = _rtf_body(message.rtf, warnings)
        html = rtf_html or html
        if text:
            return text, html, "rtf"
    return "", html, "none"


def _rtf_body(rtf: bytes, warnings: list[str]) -> tuple[str, str | None]:
    """(text, HTML): HTML encapsulated in the RTF is read as HTML, and kept as the body's HTML,
    since the message has no other; other RTF gives text only."""
    try:
        html = encapsulated_html(rtf)
        if html is not None:
            return html_to_text(html), html
        return rtf_to_text(rtf).replace("\r\n", "\n").strip(), None
    except Exception as exc:  # a broken RTF body must not cost the message
        warnings.append(f"rtf body unreadable: {type(exc).__name__}")
        return "", None


def parse_one_off_entry_id(entry_id: bytes | None) -> tuple[str, str, str] | None:
    """(display name, address type, address) from a one-off EntryID (MS-OXCDATA 2.2.5.1)."""
    if not entry_id or len(entry_id) < 24 or entry_id[4:20] != ONE_OFF_PROVIDER:
        return None
    flags = int.from_bytes(entry_id[22:24], "little")
    body = entry_id[24:]
    if flags & 0x8000:
        parts = body.decode("utf-16-le", errors="replace").split("\x00")
    else:
        parts = body.decode("cp1252", errors="replace").split("\x00")
    if len(parts) < 3:
        return None
    return parts[0], parts[1], parts[2]


def unwrap_entry_id(entry_id: bytes) -> bytes:
    """A distribution list member's WrappedEntryId holds the real EntryID after a type byte."""
    if len(entry_id) > 21 and entry_id[4:20] == WRAPPED_PROVIDER:
        return entry_id[21:]
    return entry_id


def _address(name: str | None, addrtype: str | None, address: str | None,
             smtp: str | None, warnings: list[str]) -> tuple[str, str]:
    """(display name, address), an Exchange (EX) address resolved to SMTP where the PST can."""
    kind = (addrtype or "").upper()
    if smtp:
        return name or "", smtp
    if kind in ("", "SMTP") and address:
        return name or "", address
    if kind == "EX" and address:
        warnings.append("unresolved Exchange address")
        return name or "", address
    return name or "", ""


def _sender(props: Props, warnings: list[str]) -> tuple[str, str]:
    # The author (sent representing) first; the mailbox that sent it for them second.
    for name, kind, address, smtp in (
            (PR_SENT_REPRESENTING_NAME, PR_SENT_REPRESENTING_ADDRTYPE, PR_SENT_REPRESENTING_EMAIL,
             PR_SENT_REPRESENTING_SMTP_ADDRESS),
            (PR_SENDER_NAME, PR_SENDER_ADDRTYPE, PR_SENDER_EMAIL, PR_SENDER_SMTP_ADDRESS)):
        found = _address(props.text(name), props.text(kind), props.text(address),
                         props.text(smtp), warnings)
        if found[1]:
            return found
    return props.text(PR_SENT_REPRESENTING_NAME) or props.text(PR_SENDER_NAME) or "", ""


RECIPIENT_KINDS = {1: "to", 2: "cc", 3: "bcc"}


def _recipients(message: RawMessage, warnings: list[str]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {"to": [], "cc": [], "bcc": []}
    for props in message.recipients:
        kind_number = (props.integer(PR_RECIPIENT_TYPE) or 1) & 0x0F
        kind = RECIPIENT_KINDS.get(kind_number)
        if kind is None:
            warnings.append(f"recipient type {kind_number} read as To")
            kind = "to"
        one_off = parse_one_off_entry_id(props.raw(PR_RECIPIENT_ENTRYID)
                                         or props.raw(PR_ENTRYID))
        smtp = props.text(PR_SMTP_ADDRESS) or (one_off[2] if one_off and one_off[1].upper()
                                               == "SMTP" else None)
        name = props.text(PR_DISPLAY_NAME) or props.text(PR_RECIPIENT_DISPLAY_NAME)
        found[kind].append(_address(name, props.text(PR_ADDRTYPE),
                                    props.text(PR_EMAIL_ADDRESS), smtp, warnings))
    return found


def _header_values(headers: str | None) -> dict[str, str]:
    if not headers:
        return {}
    parsed = HeaderParser().parsestr(headers, headersonly=True)
    return {name.lower(): str(value) for name, value in parsed.items()}


MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    match = MESSAGE_ID.search(value)
    return match.group(0) if match else value.strip() or None


def _importance(props: Props) -> str | None:
    return {0: "low", 1: "normal", 2: "high"}.get(props.integer(PR_IMPORTANCE))


@dataclass
class _Placement:
    """Where an item sits: its origin, and its parent and family path below a top-level item."""

    origin: Origin
    folder_path: str | None
    recovered: bool
    parent: Item | None = None
    family_path: str = ""

    @property
    def locator(self) -> str:
        if self.family_path:
            return f"{self.origin.locator} > {self.family_path}"
        return self.origin.locator


def _new_item(message: RawMessage, place: _Placement) -> Item:
    origin, (md5, sha256) = place.origin, message.content_hashes()
    item = Item(id=family_item_id(origin, place.parent, place.family_path, sha256), case=origin.case, type=item_type_for(message.message_class),
                item_class=message.message_class, custodian=origin.custodian,
                custodian_id=origin.custodian_id, custodians=[origin.custodian],
                source_path=origin.source_path, source_format=origin.source_format,
                source_locator=place.locator, folder_path=place.folder_path,
                recovered=place.recovered, md5=md5, sha256=sha256)
    if place.parent is None:
        item.family_id, item.level, item.family_path = item.id, 0, ""
    else:
        item.parent_id, item.family_id = place.parent.id, place.parent.family_id
        item.level, item.family_path = place.parent.level + 1, place.family_path
    return item


def _fill_email_fields(item: Item, message: RawMessage, warnings: list[str]) -> None:
    props = message.props
    headers = props.text(PR_TRANSPORT_MESSAGE_HEADERS)
    header_values = _header_values(headers)
    sender = _sender(props, warnings)
    recipients = _recipients(message, warnings)
    item.subject = message.subject
    item.from_ = format_address(*sender) or None
    item.from_address = sender[1].lower() or None
    item.to, item.cc, item.bcc = ([format_address(*pair) for pair in recipients[kind]]
                                  for kind in ("to", "cc", "bcc"))
    item.recipient_addresses = [address.lower() for kind in ("to", "cc", "bcc")
                                for _, address in recipients[kind] if address]
    _fill_dates(item, props, header_values.get("date"))
    item.headers = headers
    item.message_id = (props.text(PR_INTERNET_MESSAGE_ID)
                       or _message_id(header_values.get("message-id")))
    item.in_reply_to = (_message_id(props.text(PR_IN_REPLY_TO_ID))
                        or _message_id(header_values.get("in-reply-to")))
    item.references = MESSAGE_ID.findall(props.text(PR_INTERNET_REFERENCES)
                                         or header_values.get("references", ""))
    conversation_index = props.raw(PR_CONVERSATION_INDEX)
    item.conversation_index = conversation_index.hex() if conversation_index else None
    item.categories = props.texts(NAME_KEYWORDS)
    item.importance = _importance(props)
    item.size = props.integer(PR_MESSAGE_SIZE)
    body, html, source = _body(message, warnings)
    item.body, item.body_html, item.text_source = body, html, source


def _fill_dates(item: Item, props: Props, date_header: str | None) -> None:
    """`date` is when it was sent (client submit time), `received_date` when it was delivered.
    The Date header, where the transport headers hold one, gives the sender's UTC offset, and
    stands in for a missing submit time."""
    submitted = props.time(PR_CLIENT_SUBMIT_TIME)
    header = parse_date(date_header)
    item.received_date = props.time(PR_MESSAGE_DELIVERY_TIME)
    if submitted is not None:
        item.date, item.date_status = submitted, "ok"
        item.date_original = date_header or submitted.isoformat()
        item.date_utc_offset_minutes = header.offset_minutes if header.status == "ok" else None
    else:
        item.date, item.date_status = header.utc, header.status
        item.date_original, item.date_utc_offset_minutes = date_header, header.offset_minutes


def _fill_type_fields(item: Item, message: RawMessage) -> None:
    """Appointments, tasks, contacts and distribution lists: their own fields."""
    props = message.props
    if item.type == "appointment":
        item.location = props.text(LID_LOCATION)
        item.start_date = props.time(LID_APPOINTMENT_START) or props.time(LID_COMMON_START)
        item.end_date = props.time(LID_APPOINTMENT_END) or props.time(LID_COMMON_END)
    elif item.type == "task":
        item.start_date = props.time(LID_TASK_START)
        item.due_date = props.time(LID_TASK_DUE)
    elif item.type == "contact":
        _fill_contact(item, props)
    elif item.type == "distribution_list":
        _fill_distribution_list(item, props)


def _fill_contact(item: Item, props: Props) -> None:
    display_name = props.text(PR_DISPLAY_NAME)
    addresses = [address for keys in LID_EMAILS if (address := _contact_email(props, *keys))]
    phones = [(label, props.text(tag)) for tag, label in CONTACT_PHONES if props.text(tag)]
    item.subject = item.subject or display_name
    item.company = props.text(PR_COMPANY_NAME)
    item.contact_addresses = list(dict.fromkeys(addresses))
    item.phone_numbers = [number for _, number in phones]
    card = [f"Name: {display_name}"] if display_name else []
    card += [f"{label}: {props.text(tag)}" for tag, label in CONTACT_NAME_FIELDS
             if props.text(tag)]
    card += [f"Email: {address}" for address in item.contact_addresses]
    card += [f"Phone ({label}): {number}" for label, number in phones]
    item.body = "\n".join(card + ([item.body] if item.body else []))


EMAIL_IN_TEXT = re.compile(r"[^\s()<>\[\]]+@[^\s()<>\[\]]+")


def _contact_email(props: Props, _display_key: PropKey, kind_key: PropKey,
                   address_key: PropKey, original_key: PropKey) -> str | None:
    """A contact's email address, lower-cased; an Exchange DN gives way to an SMTP address
    found in the original display name ("Jane (jane@example.org)") where there is one."""
    address = props.text(address_key)
    if address and (props.text(kind_key) or "SMTP").upper() != "SMTP":
        match = EMAIL_IN_TEXT.search(props.text(original_key) or "")
        address = match.group(0) if match else address
    return address.lower() if address else None


def _fill_distribution_list(item: Item, props: Props) -> None:
    members = []
    entry_ids = props.binaries(LID_DL_ONE_OFF_MEMBERS) or props.binaries(LID_DL_MEMBERS)
    for entry_id in entry_ids:
        member = parse_one_off_entry_id(unwrap_entry_id(entry_id))
        if member:
            members.append((member[0], member[2] if member[1].upper() in ("SMTP", "") else ""))
    item.subject = item.subject or props.text(PR_DISPLAY_NAME)
    item.contact_addresses = list(dict.fromkeys(address.lower() for _, address in members
                                                if address))
    listing = [f"Member: {format_address(name, address)}" for name, address in members]
    item.body = "\n".join(listing + ([item.body] if item.body else []))


def _truncate(item: Item, limit: int, warnings: list[str]) -> None:
    if item.body is not None and len(item.body) > limit:
        warnings.append(f"text truncated at {limit} characters")
        item.body = item.body[:limit]


def message_items(message: RawMessage, place: _Placement, ctx: ParseContext) -> list[Item]:
    """The item for one Outlook item, its attachments' items, and exceptions for what failed."""
    item = _new_item(message, place)
    warnings: list[str] = []
    _fill_email_fields(item, message, warnings)
    _fill_type_fields(item, message)
    _truncate(item, ctx.ingest.max_text_chars, warnings)
    item.attachment_names = [attachment.name for attachment in message.attachments]
    item.attachment_count = len(item.attachment_names)
    item.has_attachments = bool(item.attachment_names)
    item.decode_warnings = sorted(set(warnings))
    results = [item]
    for stage, reason, text in message.problems:
        results.append(exception_item(place.origin, item.id, stage, reason, text,
                                      locator=place.locator))
    for attachment in message.attachments:
        results.extend(_attachment_items(attachment, item, place, ctx))
    return results


def _attachment_items(attachment: RawAttachment, parent: Item, place: _Placement,
                      ctx: ParseContext) -> list[Item]:
    path = child_path(place.family_path, attachment.index)
    child = _Placement(place.origin, parent.folder_path, parent.recovered, parent, path)
    if attachment.problem is not None:
        stage, reason, text = attachment.problem
        return [_attachment_exception(parent, child, stage, reason, text, attachment.name)]
    try:
        if attachment.embedded is not None:
            return message_items(attachment.embedded, child, ctx)
        data = attachment.data
        if attachment.stream is not None:
            if attachment.size > ctx.ingest.max_attachment_bytes:
                return streamed_blob_items(attachment.stream, attachment.name,
                                           attachment.mime_type, place.origin, ctx, parent, path,
                                           random_access=True, digest=attachment.digest)
            with attachment.stream() as stream:
                data = stream.read()
        return blob_items(data or b"", attachment.name, attachment.mime_type,
                          place.origin, ctx, parent=parent, family_path=path)
    except Exception as exc:  # one bad attachment must not cost its siblings
        return [_attachment_exception(parent, child, "read attachment", "corrupt",
                                      _describe(exc), attachment.name)]


def _attachment_exception(parent: Item, child: _Placement, stage: str, reason: str, text: str,
                          name: str) -> Item:
    """An exception about an attachment that has no item of its own. It points at the parent;
    its id also names the attachment, or two failed attachments of one parent would share it."""
    record = exception_item(child.origin, parent.id, stage, reason, text, name, child.locator)
    record.id = ids.exception_id(child.origin.case, f"{parent.id}#{child.family_path}", stage,
                                 reason)
    return record


# ---------------------------------------------------------------------------------------------
# The folder walk, work units and the reader.

@dataclass(frozen=True)
class FolderSpan:
    path: str          # "Top of Personal Folders/Inbox"; the unnamed root is ""
    folder: Any
    first: int         # global number of the folder's first message in the walk
    count: int


def walk_folders(pst: Any, problems: list[tuple[str, str]] | None = None) -> Iterator[FolderSpan]:
    """Folders depth-first, sub-folders in index order, each with its messages' numbers."""
    ordinal = 0
    stack: list[tuple[str, Any]] = [("", pst.root_folder)]
    while stack:
        path, folder = stack.pop()
        try:
            count = folder.number_of_sub_messages
        except Exception as exc:  # pypff raises OSError or MemoryError on damaged data
            count = 0
            if problems is not None:
                problems.append((path, f"messages not listed: {_describe(exc)}"))
        yield FolderSpan(path, folder, ordinal, count)
        ordinal += count
        stack.extend(reversed(list(_sub_folders(path, folder, problems))))


def _sub_folders(path: str, folder: Any,
                 problems: list[tuple[str, str]] | None) -> Iterator[tuple[str, Any]]:
    try:
        total = folder.number_of_sub_folders
    except Exception as exc:  # pypff raises OSError or MemoryError on damaged data
        if problems is not None:
            problems.append((path, f"sub-folders not listed: {_describe(exc)}"))
        return
    for index in range(total):
        try:
            sub = folder.get_sub_folder(index)
            name = sub.name or f"folder {index + 1}"
        except Exception as exc:  # pypff raises OSError or MemoryError on damaged data
            if problems is not None:
                problems.append((path, f"sub-folder {index + 1} unreadable: {_describe(exc)}"))
            continue
        yield (f"{path}/{name}" if path else name), sub


def safe_name_map(pst: Any) -> tuple[dict[int, PropKey], str | None]:
    """The named-property map, or none and why: without it named properties (appointment
    times, contact addresses) are unreadable, but everything else still is."""
    try:
        return pypff_name_map(pst), None
    except Exception as exc:  # pypff raises OSError or MemoryError on damaged data
        return {}, f"named properties unreadable, so appointment, task and contact fields " \
                   f"may be missing: {_describe(exc)}"


def count_messages(pst: Any) -> int:
    return sum(span.count for span in walk_folders(pst))


def open_pst(path: str) -> Any:
    import pypff

    pst = pypff.file()
    pst.open(path)
    return pst


def open_failure_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    return "encrypted" if "encrypt" in text or "password" in text else "corrupt"


def is_offline_store(path: str) -> bool:
    """Whether the file is an OST: its header's client magic (wMagicClient, after the magic and
    a CRC) is 'SO' where a PST has 'SM'."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(PST_MAGIC) + 6)[len(PST_MAGIC) + 4:] == OST_CLIENT_MAGIC
    except OSError:
        return False


def has_password(pst: Any) -> bool:
    """PR_PST_PASSWORD holds a CRC-32 of the password; zero or absent means none. Only a PST's:
    an OST, Outlook's copy of a server mailbox, has no password of its own, and the OSTs of
    Outlook.com accounts hold 0xFFFFFFFF there."""
    try:
        record_set = pst.message_store.get_record_set(0)
        for entry in record_set.entries:
            if entry.entry_type == PR_PST_PASSWORD:
                return int.from_bytes(entry.data or b"", "little") != 0
    except Exception:  # no readable message store: nothing says there is a password
        return False
    return False


class PstReader(SourceReader):
    name = "pst"
    extensions = (".pst", ".ost")

    def score(self, head: bytes, path: str) -> int:
        return 90 if head.startswith(PST_MAGIC) else 0

    def plan(self, source: SourceFile, split_bytes: int) -> list[WorkUnit]:
        """One unit for the whole file, or, past MESSAGES_PER_UNIT messages, message ranges of
        MESSAGES_PER_UNIT and then the file unit. `split_bytes` is unused: a PST's cost is in
        its messages, not its bytes."""
        def unit(start: int, end: int | None) -> WorkUnit:
            return WorkUnit(case=source.case, custodian=source.custodian,
                            custodian_id=source.custodian_id, path=source.path,
                            format=self.name, start=start, end=end)

        try:
            pst = open_pst(source.path)
        except Exception:  # read() opens it again and reports why it cannot
            return [unit(0, None)]
        try:
            total = count_messages(pst)
        except Exception:  # the walk broke part-way: one unit reads what can be read
            return [unit(0, None)]
        finally:
            pst.close()
        size = max(MESSAGES_PER_UNIT, 1)
        if total <= size:
            # One task, and one pffexport run (PffExport), for the messages and the file's items.
            return [unit(0, None)]
        return [unit(start, min(start + size, total)) for start in range(0, total, size)] \
            + [unit(FILE_UNIT_START, None)]

    def read(self, unit: WorkUnit, ctx: ParseContext) -> Iterator[Item]:
        try:
            pst = open_pst(unit.path)
        except Exception as exc:
            yield exception_item(self.origin(unit, "file"), None, "open pst",
                                 open_failure_reason(exc), _describe(exc))
            return
        export = PffExport(unit.path, ctx.ingest.scratch_dir)
        try:
            names, names_problem = safe_name_map(pst)
            reader = PypffReader(names, export, ctx.ingest.max_attachment_bytes)
            if unit.start != FILE_UNIT_START:
                yield from self._guarded(unit, unit.start, unit.end,
                                         self._range_items(unit, pst, reader, ctx))
            if unit.end is None:
                yield from self._guarded(unit, FILE_UNIT_START, None, self._file_items(
                    unit, pst, reader, export, ctx, names_problem))
        finally:
            export.close()
            pst.close()

    def _guarded(self, unit: WorkUnit, start: int, end: int | None,
                 items: Iterator[Item]) -> Iterator[Item]:
        """The items of one part of a unit, its messages or the file's own items: damage in one
        part must not cost the other, which a unit of its own used to read."""
        try:
            yield from items
        except Exception as exc:  # damage met while walking: what was read so far stands
            yield exception_item(self.origin(unit, f"unit {start}-{end}"), None, "read pst",
                                 "corrupt", _describe(exc))

    def _range_items(self, unit: WorkUnit, pst: Any, reader: PypffReader,
                     ctx: ParseContext) -> Iterator[Item]:
        end = unit.end if unit.end is not None else float("inf")
        for span in walk_folders(pst):
            if span.first + span.count <= unit.start or span.first >= end:
                continue
            first = max(unit.start - span.first, 0)
            last = min(end - span.first, span.count)
            for index in range(first, int(last)):
                yield from self._folder_message(unit, span, index, reader, ctx)

    def _folder_message(self, unit: WorkUnit, span: FolderSpan, index: int,
                        reader: PypffReader, ctx: ParseContext) -> Iterator[Item]:
        locator = f"folder {span.path} message {index + 1}"
        try:
            item = span.folder.get_sub_message(index)
            locator += f" nid {item.identifier}"
            place = _Placement(self.origin(unit, locator), span.path, False)
            raw = reader.message(item, ExportRef(span.path))
            items = message_items(raw, place, ctx)
        except Exception as exc:  # one unreadable message becomes its exception record
            yield exception_item(self.origin(unit, locator), None, "read message", "corrupt",
                                 _describe(exc))
            return
        yield from items

    def _file_items(self, unit: WorkUnit, pst: Any, reader: PypffReader, export: PffExport,
                    ctx: ParseContext, names_problem: str | None) -> Iterator[Item]:
        origin = self.origin(unit, "file")
        if names_problem:
            yield exception_item(origin, None, "read named properties", "corrupt", names_problem)
        if not is_offline_store(unit.path) and has_password(pst):
            yield exception_item(origin, None, "open pst", "encrypted",
                                 "the PST is password-protected (PR_PST_PASSWORD is set). A PST "
                                 "password is checked by Outlook but does not encrypt the data: "
                                 "libpff read the items without it, and they are indexed")
        problems: list[tuple[str, str]] = []
        for _ in walk_folders(pst, problems):
            pass
        for path, text in problems:
            yield exception_item(origin, None, "read folder", "corrupt", text,
                                 locator=f"folder {path}")
        yield from self._orphan_items(unit, pst, reader, ctx)
        yield from self._recovered_items(unit, export, ctx)

    def _orphan_items(self, unit: WorkUnit, pst: Any, reader: PypffReader,
                      ctx: ParseContext) -> Iterator[Item]:
        try:
            total = pst.number_of_orphan_items
        except Exception as exc:  # pypff raises OSError or MemoryError on damaged data
            yield exception_item(self.origin(unit, "orphans"), None, "read orphans", "corrupt",
                                 _describe(exc))
            return
        for index in range(total):
            locator = f"orphan {index + 1}"
            try:
                item = pst.get_orphan_item(index)
                raw = reader.message(item, ExportRef(""))
                if raw.props.text(PR_MESSAGE_CLASS) is None:
                    continue   # an orphaned folder or table, not a message
                place = _Placement(self.origin(unit, f"{locator} nid {item.identifier}"), None,
                                   True)
                items = message_items(raw, place, ctx)
            except Exception as exc:
                yield exception_item(self.origin(unit, locator), None, "read orphan", "corrupt",
                                     _describe(exc))
                continue
            yield from items

    def _recovered_items(self, unit: WorkUnit, export: PffExport,
                         ctx: ParseContext) -> Iterator[Item]:
        # pypff has no recovery scan: pffexport -m recovered finds deleted items.
        try:
            directories = export.item_dirs("recovered")
        except FallbackUnavailable as exc:
            yield exception_item(self.origin(unit, "recovered"), None, "read recovered items",
                                 "fallback_unavailable",
                                 f"recovered (deleted) items were not looked for: {exc}")
            return
        except (FallbackFailed, OSError) as exc:
            yield exception_item(self.origin(unit, "recovered"), None, "read recovered items",
                                 "corrupt", f"recovered items could not be read: {exc}")
            return
        for directory in directories:
            relative = directory.relative_to(export.root("recovered"))
            folder = str(relative.parent) if relative.parent != Path(".") else None
            place = _Placement(self.origin(unit, f"recovered {relative}"), folder, True)
            try:
                items = message_items(export_message(directory), place, ctx)
            except Exception as exc:
                yield exception_item(place.origin, None, "read recovered item", "corrupt",
                                     _describe(exc))
                continue
            yield from items

