"""A seeded benchmark corpus: custodians' mailboxes (MBOX and loose EML) built from real text.

The text is the SpamAssassin ham (`trawl demo prepare` writes it as mboxes): paragraphs of real
bodies, real subjects and real sender names, read once into a pool. Messages are generated from
the pool with one `random.Random(seed)`, so the same spec and seed material write byte-identical
files. Each message has a sender and To/Cc recipients, custodians and outsiders mixed, and is
written into the mailbox of every custodian on it; the copies differ only in delivery headers
(Received, Delivered-To, X-Folder), so file hashes differ and email dedup finds them. Replies
and forwards form threads, attachments (txt, html, pdf, docx, xlsx) come from a fixed pool of
payloads so the same file recurs, and a few bodies are near-duplicates of recent ones.
A body is one to four real paragraphs rather than one whole seed body: the ~4,000 ham bodies
would otherwise each recur a hundred times in a million messages, and near-duplicates would be
the rule instead of the exception.

The generator counts what it writes: truth.json says how many messages, copies, attachments and
threads there are, per custodian and in all, so a benchmark can check the pipeline's output.
Beside the mail, each custodian can get copies of the shared corpus's PST and MSG files.

    python -m pipeline.bench.corpus --items 100000 --out var/bench/corpus-100k \\
        --seed-material var/demo/mail --shared-corpus ../shared/corpus
"""

from __future__ import annotations

import argparse
import base64
import calendar
import email
import email.errors
import email.header
import email.message
import email.utils
import gc
import io
import json
import os
import random
import re
import shutil
import sys
import time
import zipfile
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Callable, Sequence, TypeVar
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

import yaml

from pipeline.demo import mbox_entry
from pipeline.progress import Reporter, silent
from pipeline.sources.mbox import iter_messages
from pipeline.transforms.threads import REPLY_PREFIX, thread_subject

MESSAGES_PER_MBOX = 50_000      # a custodian's mbox rotates to a new file after this many
EML_PER_FOLDER = 1_000
REPORT_EVERY = 100_000
ATTACHMENT_POOL = 300
WINDOW = 2_000                  # recent messages a reply, forward or near-duplicate may follow
MAX_DEPTH = 12                  # replies to a message this deep start no further reply
QUOTE_CHARS = 3_000             # at most this much of a parent is quoted or forwarded
NEAR_DUPLICATE_RATE = 0.05      # share of new conversations that re-send a recent body, varied
FORWARD_RATE = 0.15             # share of thread messages that are forwards, not replies
# A reply or forward adding one line is a near-duplicate of what it quotes; one adding
# paragraphs mostly is not. This share keeps near-duplicates well short of half the messages.
ONE_LINE_REPLIES = 0.3
DOMAIN = "psd.example.org"
MAX_CUSTODIANS = 1_000
BUFFER_BYTES = 256 << 20        # written mail held in memory at most, over all custodians
DAY = 86_400

SHARED_PST = ("aleph/testPST.pst", "ruby-msg/attachAndInline.pst", "ruby-msg/msgInMsg.pst",
              "java-libpst/dist-list.pst")
SHARED_MSG = ("ruby-msg/qwerty_1-orig.msg", "ruby-msg/test_Blammo.msg",
              "msg-extractor/strangeDate.msg")

FIRST_NAMES = (
    "Aisha", "Alan", "Alice", "Amir", "Andrew", "Anna", "Ben", "Bethany", "Carl", "Catherine",
    "Chloe", "Daniel", "David", "Deborah", "Eleanor", "Emma", "Farah", "Fiona", "Gareth", "Grace",
    "Hannah", "Harry", "Helen", "Ian", "Imran", "Jack", "James", "Jane", "Joanne", "John",
    "Karen", "Kwame", "Laura", "Liam", "Lucy", "Mark", "Martin", "Megan", "Michael", "Nadia",
    "Neil", "Nicola", "Oliver", "Paul", "Priya", "Rachel", "Ravi", "Rebecca", "Richard", "Sarah",
    "Sean", "Simon", "Sophie", "Stephen", "Susan", "Thomas", "Tom", "Victoria", "William", "Zoe")
LAST_NAMES = (
    "Adams", "Ahmed", "Baker", "Bell", "Bennett", "Brooks", "Campbell", "Carter", "Chen", "Clarke",
    "Collins", "Cooper", "Davies", "Dixon", "Edwards", "Evans", "Fisher", "Fletcher", "Foster",
    "Graham", "Green", "Hall", "Harris", "Hughes", "Hussain", "Jackson", "James", "Jones", "Kaur",
    "Kelly", "Khan", "King", "Lewis", "Lloyd", "Marshall", "Mensah", "Mitchell", "Moore",
    "Morgan", "Murphy", "Okafor", "Owen", "Palmer", "Parker", "Patel", "Price", "Reid",
    "Richards", "Roberts", "Robinson", "Shaw", "Singh", "Smith", "Taylor", "Thomas", "Turner",
    "Walker", "Ward", "Watson", "Wright")
EXTERNAL_DOMAINS = ("harbourlaw.example", "northgate-council.example", "example.com",
                    "example.net", "mail.example.org", "federation.example", "ipoc.example",
                    "cps.example", "unison-branch.example", "press.example.co.uk")
INSIDE_SHARE = 0.3              # outsiders who are colleagues without a mailbox in the case
EXTERNAL_ZONES = ("+0000", "+0100", "+0200", "-0500", "-0400", "-0800", "-0700", "+0530",
                  "+1000", "+0900", "-0300", "+0800")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
GREETINGS = ("Hi {name},", "Hello {name},", "{name},", "Dear {name},", "Morning {name},")
CLOSINGS = ("Thanks", "Regards", "Best", "Kind regards", "Cheers", "Many thanks")
SHORT_REPLIES = ("Thanks, that works for me.", "Noted - I will pick this up tomorrow.",
                 "Can we discuss this at the next case review?", "Agreed. Please go ahead.",
                 "I have not seen this before; who else has a copy?",
                 "See my comments below.", "Please send me the full file when you can.")
FORWARD_NOTES = ("FYI - see below.", "Forwarding for your records.",
                 "Could you take a look at this?", "Please see the message below and advise.")

KINDS = ("txt", "html", "pdf", "docx", "xlsx")
KIND_WEIGHTS = (20, 15, 30, 20, 15)
CONTENT_TYPES = {
    "txt": "text/plain",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

LIST_TAG = re.compile(r"^\s*(?:\[[^\]]{1,30}\]\s*)+")
# A person's name: two or three capitalised words, none of them shouting or naming a list.
NAME_SHAPE = re.compile(r"^[A-Z][a-z'-]+(?: [A-Z][A-Za-z'-]*[a-z][A-Za-z'-]*){1,2}$")
NOT_A_PERSON = {"Admin", "Daemon", "Delivery", "Digest", "Info", "List", "Lists", "Mail",
                "Mailer", "News", "Online", "Server", "Service", "Support", "System", "Team",
                "Update", "Updates", "Webmaster"}
PARAGRAPH_NOISE = re.compile(r"(?im)^(?:>|\|)|wrote:|^[-_=*#~+]{3,}|mailing list|unsubscribe|"
                             r"sponsored by|^\s*url:")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
T = TypeVar("T")


@dataclass(frozen=True)
class CorpusSpec:
    items: int            # top-level messages written into the MBOX/EML tree, every copy counted
    custodians: int = 20
    seed: int = 7
    years: tuple[int, int] = (2015, 2021)
    eml_fraction: float = 0.05          # share of mailbox copies written as loose .eml files
    attachment_fraction: float = 0.12
    thread_reply_fraction: float = 0.45  # share of unique messages that are replies/forwards
    pst_copies: bool = True             # per-custodian copies of the shared PST and MSG files

    def __post_init__(self) -> None:
        problems = []
        if self.items < 1:
            problems.append(f"items must be at least 1 (got {self.items})")
        if not 1 <= self.custodians <= MAX_CUSTODIANS:
            problems.append(f"custodians must be 1 to {MAX_CUSTODIANS} (got {self.custodians})")
        if self.years[0] > self.years[1]:
            problems.append(f"years must be (first, last) (got {self.years})")
        for name in ("eml_fraction", "attachment_fraction", "thread_reply_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be between 0 and 1")
        if problems:
            raise ValueError("; ".join(problems))


# --- Random choices -------------------------------------------------------------------------

class Weighted:
    """A fixed weighted choice; `pick` is several times faster than random.choices."""

    def __init__(self, values: Sequence[T], weights: Sequence[float]) -> None:
        self.values = tuple(values)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, random_: Callable[[], float]) -> T:
        # random() < 1, and x * (1 - 2**-53) rounds below x for any positive float x, so the
        # product stays below the last cumulative weight and the index inside the values.
        return self.values[bisect_right(self.cumulative, random_() * self.total)]


def skewed(values: Sequence[T], power: float) -> Weighted:
    """The first of `values` chosen much more often than the last, as with real senders."""
    return Weighted(values, [1.0 / (rank + 1) ** power for rank in range(len(values))])


def _pick(random_: Callable[[], float], values: Sequence[T]) -> T:
    """Like random.choice, without its rejection sampling (see Weighted.pick for the bound)."""
    return values[int(random_() * len(values))]


TO_COUNTS = Weighted((1, 2, 3, 4), (50, 25, 15, 10))
CC_COUNTS = Weighted((0, 1, 2, 3), (60, 20, 12, 8))
FORWARD_TO_COUNTS = Weighted((1, 2), (70, 30))
FORWARD_CC_COUNTS = Weighted((0, 1), (75, 25))
PARAGRAPH_COUNTS = Weighted((1, 2, 3, 4), (25, 35, 25, 15))
REPLY_PARAGRAPH_COUNTS = Weighted((1, 2), (60, 40))
ATTACHMENT_COUNTS = Weighted((1, 2, 3), (75, 18, 7))
PAYLOAD_KINDS = Weighted(KINDS, KIND_WEIGHTS)


# --- Seed material ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SeedPool:
    """Real text to build messages from: body paragraphs, subjects and sender names."""
    paragraphs: tuple[str, ...]
    subjects: tuple[str, ...]
    names: tuple[str, ...]
    messages_read: int

    @cached_property
    def subject_keys(self) -> tuple[str, ...]:
        """Each subject as threading compares it (pipeline.transforms.threads)."""
        return tuple(thread_subject(subject)[0] for subject in self.subjects)


def _header_text(value: object) -> str:
    """A header's decoded text; a header whose raw bytes are not ASCII arrives as a Header."""
    if not value:
        return ""
    try:
        return str(email.header.make_header(email.header.decode_header(str(value))))
    except (UnicodeError, LookupError, email.errors.HeaderParseError):
        return ""


def _plain_text(message: email.message.Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            payload = part.get_payload(decode=True) or b""
            try:
                return payload.decode(part.get_content_charset() or "latin-1", "replace")
            except LookupError:
                return payload.decode("latin-1")
    return ""


def _paragraphs(text: str) -> list[str]:
    """Blank-line-separated paragraphs of plain prose: no quotes, footers or very long lines."""
    found = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\t", "    ")):
        lines = [line.rstrip() for line in block.strip("\n").split("\n")]
        paragraph = "\n".join(lines).strip()
        letters = sum(char.isalpha() for char in paragraph)
        if (60 <= len(paragraph) <= 1_500 and len(paragraph.split()) >= 8
                and letters >= 0.7 * (len(paragraph) - paragraph.count(" "))
                and max(len(line) for line in lines) <= 300
                and not PARAGRAPH_NOISE.search(paragraph) and not CONTROL.search(paragraph)):
            found.append(paragraph)
    return found


def _subject(raw: object) -> str:
    subject = " ".join(_header_text(raw).split())
    while True:
        shorter = LIST_TAG.sub("", REPLY_PREFIX.sub("", subject, count=1))
        if shorter == subject:
            break
        subject = shorter
    printable = subject.isascii() and subject.isprintable()
    return subject if printable and 3 <= len(subject) <= 120 else ""


def load_seed_pool(seed_material: Path) -> SeedPool:
    """Paragraphs, subjects and names from the mboxes in `seed_material` (ham only when the
    folder holds any: files whose name does not say spam)."""
    mboxes = sorted(Path(seed_material).glob("*.mbox"))
    ham = [path for path in mboxes if "spam" not in path.name.lower()]
    paragraphs: dict[str, None] = {}
    subjects: dict[str, None] = {}
    names: dict[str, None] = {}
    count = 0
    for path in ham or mboxes:
        with open(path, "rb") as handle:
            for _, raw in iter_messages(handle, 0, None):
                count += 1
                message = email.message_from_bytes(raw)
                paragraphs.update(dict.fromkeys(_paragraphs(_plain_text(message))))
                subjects[_subject(message.get("Subject"))] = None
                name = " ".join(_header_text(email.utils.parseaddr(
                    str(message.get("From", "")))[0]).split())
                if (NAME_SHAPE.match(name) and len(name) <= 40
                        and NOT_A_PERSON.isdisjoint(name.split())):
                    names[name] = None
    subjects.pop("", None)
    if not paragraphs or not subjects:
        raise ValueError(f"no usable message text in the mboxes under {seed_material} "
                         f"({count} messages read)")
    return SeedPool(tuple(paragraphs), tuple(subjects), tuple(names), count)


# --- People ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    name: str
    address: str
    zone: str | None            # a fixed UTC offset, or None for UK time (GMT or BST)
    custodian: int | None = None  # index among the custodians, None for everyone else

    @cached_property
    def first(self) -> str:
        return self.name.split()[0]

    @property
    def slug(self) -> str:
        return self.address.split("@")[0].replace(".", "-")

    @cached_property
    def header(self) -> str:
        return f'"{self.name}" <{self.address}>'


def _local_part(name: str) -> str:
    return ".".join(re.sub(r"[^a-z]", "", word.lower()) for word in name.split())


@dataclass(frozen=True)
class Cast:
    custodians: tuple[Person, ...]
    outsiders: tuple[Person, ...]

    @classmethod
    def build(cls, rng: random.Random, pool: SeedPool, custodians: int) -> Cast:
        pairs = rng.sample(range(len(FIRST_NAMES) * len(LAST_NAMES)), custodians)
        names = [f"{FIRST_NAMES[p // len(LAST_NAMES)]} {LAST_NAMES[p % len(LAST_NAMES)]}"
                 for p in pairs]
        inside = tuple(Person(name, f"{_local_part(name)}@{DOMAIN}", None, index)
                       for index, name in enumerate(names))
        addresses, named = {person.address for person in inside}, set(names)
        wanted = max(40, 4 * custodians)
        # Real names from the seed first, then every made-up name no custodian has: at
        # most MAX_CUSTODIANS of those are taken, so there are always outsiders.
        candidates, made_up = list(pool.names), [f"{first} {last}" for first in FIRST_NAMES
                                                 for last in LAST_NAMES]
        rng.shuffle(candidates)
        rng.shuffle(made_up)
        candidates += made_up
        outsiders = []
        for name in candidates:
            if len(outsiders) == wanted:
                break
            colleague = rng.random() < INSIDE_SHARE
            domain = DOMAIN if colleague else rng.choice(EXTERNAL_DOMAINS)
            address = f"{_local_part(name)}@{domain}"
            if address not in addresses and name not in named:
                addresses.add(address)
                named.add(name)
                outsiders.append(Person(name, address,
                                        None if colleague else rng.choice(EXTERNAL_ZONES)))
        return cls(inside, tuple(outsiders))


# --- Attachments -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Payload:
    kind: str
    filename: str
    data: bytes
    part: bytes                 # the MIME part after its boundary line, base64 body included


def pdf_bytes(title: str, lines: list[str]) -> bytes:
    """A one-page PDF 1.4 with the lines in Helvetica, its xref offsets exact."""
    def literal(text: str) -> str:
        text = text.encode("ascii", "replace").decode("ascii")
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    shown = [title, ""] + lines[:44]
    content = ("BT\n/F1 11 Tf\n14 TL\n72 740 Td\n"
               + "".join(f"{literal(line)} Tj T*\n" for line in shown) + "ET").encode("ascii")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
               b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
               b"/Encoding /WinAnsiEncoding >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def _zip(parts: dict[str, str]) -> bytes:
    """An OOXML package with fixed timestamps, so the same parts give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in parts.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
OOXML_TYPES = "application/vnd.openxmlformats-officedocument."


def _content_types(overrides: dict[str, str]) -> str:
    return (XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/>'
            + "".join(f'<Override PartName="/{part}" ContentType="{OOXML_TYPES}{kind}"/>'
                      for part, kind in overrides.items()) + "</Types>")


def _relationships(kind: str, target: str) -> str:
    return (XML_HEAD + f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
            f'Type="{OFFICE_RELS}/{kind}" Target="{target}"/></Relationships>')


def docx_bytes(title: str, paragraphs: list[str]) -> bytes:
    """A minimal Word document: one w:p per paragraph."""
    runs = "".join(f'<w:p><w:r><w:t xml:space="preserve">{xml_escape(text)}</w:t></w:r></w:p>'
                   for text in [title] + paragraphs)
    document = (XML_HEAD + '<w:document xmlns:w="http://schemas.openxmlformats.org/'
                f'wordprocessingml/2006/main"><w:body>{runs}</w:body></w:document>')
    return _zip({"[Content_Types].xml": _content_types(
                     {"word/document.xml": "wordprocessingml.document.main+xml"}),
                 "_rels/.rels": _relationships("officeDocument", "word/document.xml"),
                 "word/document.xml": document})


def xlsx_bytes(title: str, rows: list[tuple[str | float, ...]]) -> bytes:
    """A minimal workbook: one sheet, strings inline, numbers as values."""
    def cell(column: int, row: int, value: str | float) -> str:
        ref = f"{chr(65 + column)}{row}"
        if isinstance(value, str):
            return f'<c r="{ref}" t="inlineStr"><is><t>{xml_escape(value)}</t></is></c>'
        return f'<c r="{ref}"><v>{value}</v></c>'

    # Excel forbids []:*?/\\ in a sheet name and allows 31 characters.
    sheet_name = re.sub(r"[\[\]:*?/\\]", " ", title)[:31].strip() or "Sheet1"
    body = "".join(f'<row r="{number}">'
                   + "".join(cell(column, number, value) for column, value in enumerate(row))
                   + "</row>" for number, row in enumerate(rows, start=1))
    sheet = (XML_HEAD + '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
             f'2006/main"><sheetData>{body}</sheetData></worksheet>')
    workbook = (XML_HEAD + '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                f'2006/main" xmlns:r="{OFFICE_RELS}"><sheets><sheet name={quoteattr(sheet_name)}'
                ' sheetId="1" r:id="rId1"/></sheets></workbook>')
    return _zip({"[Content_Types].xml": _content_types(
                     {"xl/workbook.xml": "spreadsheetml.sheet.main+xml",
                      "xl/worksheets/sheet1.xml": "spreadsheetml.worksheet+xml"}),
                 "_rels/.rels": _relationships("officeDocument", "xl/workbook.xml"),
                 "xl/workbook.xml": workbook,
                 "xl/_rels/workbook.xml.rels": _relationships("worksheet",
                                                              "worksheets/sheet1.xml"),
                 "xl/worksheets/sheet1.xml": sheet})


def _html_bytes(title: str, paragraphs: list[str]) -> bytes:
    text = "".join(f"<p>{xml_escape(p)}</p>\n" for p in paragraphs)
    return (f'<html><head><meta charset="utf-8"><title>{xml_escape(title)}</title></head>\n'
            f"<body><h1>{xml_escape(title)}</h1>\n{text}</body></html>\n").encode("utf-8")


def _sheet_rows(rng: random.Random, words: list[str]) -> list[tuple[str | float, ...]]:
    rows: list[tuple[str | float, ...]] = [("Date", "Reference", "Amount", "Note")]
    for _ in range(rng.randint(4, 30)):
        note = " ".join(rng.choice(words) for _ in range(rng.randint(3, 9)))
        rows.append((f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/20{rng.randint(15, 21)}",
                     f"REF-{rng.randint(1000, 9999)}", round(rng.uniform(5, 5000), 2), note))
    return rows


def make_payloads(rng: random.Random, pool: SeedPool, count: int) -> tuple[Payload, ...]:
    """`count` distinct attachments, made once; messages pick from them, the first most."""
    payloads = []
    for number in range(count):
        kind = PAYLOAD_KINDS.pick(rng.random)
        title = rng.choice(pool.subjects)
        paragraphs = [rng.choice(pool.paragraphs) for _ in range(rng.randint(1, 6))]
        if kind == "txt":
            data = "\n\n".join([title] + paragraphs).encode("utf-8") + b"\n"
        elif kind == "html":
            data = _html_bytes(title, paragraphs)
        elif kind == "pdf":
            data = pdf_bytes(title, [line for p in paragraphs for line in p.split("\n")])
        elif kind == "docx":
            data = docx_bytes(title, paragraphs)
        else:
            data = xlsx_bytes(title, _sheet_rows(rng, " ".join(paragraphs).split()))
        stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "document"
        filename = f"{stem}-{number + 1:03d}.{kind}"
        charset = '; charset="utf-8"' if kind in ("txt", "html") else ""
        part = (f'Content-Type: {CONTENT_TYPES[kind]}{charset}; name="{filename}"\n'
                f'Content-Disposition: attachment; filename="{filename}"\n'
                "Content-Transfer-Encoding: base64\n\n").encode("ascii")
        payloads.append(Payload(kind, filename, data, part + base64.encodebytes(data)))
    return tuple(payloads)


# --- Messages --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    hex: str                    # unique: random bits, then the message's number
    message_id: str
    date: int                   # UTC epoch seconds
    date_header: str
    sender: Person
    to: tuple[Person, ...]
    cc: tuple[Person, ...]
    subject: str
    text: str                   # what the sender wrote, without any quoted parent
    body: str
    references: tuple[str, ...] = ()
    in_reply_to: str | None = None
    depth: int = 0
    payloads: tuple[Payload, ...] = ()
    kind: str = "new"           # new, near-duplicate, reply or forward

    @property
    def thread_starter(self) -> bool:
        return self.kind in ("new", "near-duplicate")


@lru_cache(maxsize=None)
def _calendar_day(day: int) -> time.struct_time:
    """The date of a day counted from 1970-01-01 (a corpus spans a few thousand)."""
    return time.gmtime(day * DAY)


@lru_cache(maxsize=None)
def _zone_seconds(zone: str) -> int:
    sign = -1 if zone[0] == "-" else 1
    return sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def format_date(epoch: int, zone: str) -> str:
    """RFC 2822, in the given offset, with English day and month names whatever the locale."""
    day, seconds = divmod(epoch + _zone_seconds(zone), DAY)
    t = _calendar_day(day)
    return (f"{DAYS[t.tm_wday]}, {t.tm_mday:02d} {MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{_clock(seconds)} {zone}")


def envelope_date(epoch: int) -> str:
    """The asctime-style date of an mbox "From " line, in UTC."""
    day, seconds = divmod(epoch, DAY)
    t = _calendar_day(day)
    return f"{DAYS[t.tm_wday]} {MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {_clock(seconds)} {t.tm_year}"


def zone_of(person: Person, epoch: int) -> str:
    """The sender's offset: fixed for outsiders, UK summer or winter time (roughly: April to
    October) for the force's own staff."""
    if person.zone is not None:
        return person.zone
    return "+0100" if 4 <= _calendar_day(epoch // DAY).tm_mon <= 10 else "+0000"


def _trimmed(text: str) -> str:
    """At most QUOTE_CHARS of the text, cut at a line end."""
    if len(text) <= QUOTE_CHARS:
        return text
    cut = text.rfind("\n", 0, QUOTE_CHARS)
    return text[:cut if cut > 0 else QUOTE_CHARS].rstrip()


def _quoted(text: str) -> str:
    return "> " + _trimmed(text).replace("\n", "\n> ")


class MessageFactory:
    """Unique messages one after another: new conversations, replies, forwards and
    near-duplicates, all drawn from one seeded random stream."""

    def __init__(self, spec: CorpusSpec, rng: random.Random, pool: SeedPool, cast: Cast,
                 payloads: tuple[Payload, ...]) -> None:
        self.spec, self.rng, self.pool, self.cast, self.payloads = (spec, rng, pool, cast,
                                                                    payloads)
        self.random = rng.random
        self.custodians = skewed(cast.custodians, 0.7)
        self.outsiders = skewed(cast.outsiders, 0.9)
        first, last = spec.years
        # Replies come up to 3 days after their parent and MAX_DEPTH deep: conversations
        # start early enough for the last reply to fall inside the years too.
        self.start = calendar.timegm((first, 1, 1, 0, 0, 0)) + DAY
        self.end = calendar.timegm((last + 1, 1, 1, 0, 0, 0)) - (3 * MAX_DEPTH + 4) * DAY
        self.window: list[Message] = []
        self.conversations: set[tuple[str, tuple[str, ...]]] = set()
        self.renamed = 0            # new conversations whose subject had to be made unique
        self.serial = 0

    # people

    def _someone(self) -> Person:
        if self.random() < 0.45:
            return self.custodians.pick(self.random)
        return self.outsiders.pick(self.random)

    def _recipients(self, count: int, exclude: set[str]) -> tuple[Person, ...]:
        """`count` people not in `exclude` (which grows by them), drawn by popularity; after
        a few collisions, the first outsiders not yet taken."""
        chosen: list[Person] = []
        for _ in range(count * 3):
            if len(chosen) == count:
                return tuple(chosen)
            person = self._someone()
            if person.address not in exclude:
                exclude.add(person.address)
                chosen.append(person)
        for person in self.cast.outsiders:
            if len(chosen) == count:
                break
            if person.address not in exclude:
                exclude.add(person.address)
                chosen.append(person)
        return tuple(chosen)

    def _addressing(self) -> tuple[Person, tuple[Person, ...], tuple[Person, ...]]:
        random_ = self.random
        sender = (self.custodians if random_() < 0.6 else self.outsiders).pick(random_)
        exclude = {sender.address}
        to = self._recipients(TO_COUNTS.pick(random_), exclude)
        cc = self._recipients(CC_COUNTS.pick(random_), exclude)
        return sender, to, cc

    # text

    def _own_text(self, sender: Person, to: tuple[Person, ...], short: bool) -> str:
        random_, paragraphs = self.random, self.pool.paragraphs
        greeting = _pick(random_, GREETINGS).format(name=to[0].first)
        if short and random_() < ONE_LINE_REPLIES:
            middle = _pick(random_, SHORT_REPLIES)
        else:
            count = (REPLY_PARAGRAPH_COUNTS if short else PARAGRAPH_COUNTS).pick(random_)
            middle = "\n\n".join([_pick(random_, paragraphs) for _ in range(count)])
        return f"{greeting}\n\n{middle}\n\n{_pick(random_, CLOSINGS)},\n{sender.first}"

    def _varied(self, text: str) -> str:
        """The text with one sentence swapped for another from the pool."""
        sentences = SENTENCE_END.split(text)
        replacement = SENTENCE_END.split(_pick(self.random, self.pool.paragraphs))
        sentences[int(self.random() * len(sentences))] = _pick(self.random, replacement)
        return " ".join(sentences)

    def _attachments(self) -> tuple[Payload, ...]:
        random_ = self.random
        if random_() >= self.spec.attachment_fraction:
            return ()
        wanted = min(ATTACHMENT_COUNTS.pick(random_), len(self.payloads))
        picked: list[int] = []
        while len(picked) < wanted:
            index = int(len(self.payloads) * random_() ** 2)   # the first ones most often
            if index not in picked:
                picked.append(index)
        return tuple(self.payloads[i] for i in picked)

    # messages

    def next_message(self) -> Message:
        self.serial += 1
        random_ = self.random
        if self.window and random_() < self.spec.thread_reply_fraction:
            parent = _pick(random_, self.window)
            if random_() < FORWARD_RATE:
                message = self._forward(parent)
            else:
                message = self._reply(parent)
        else:
            message = self._new_conversation()
        if message.depth < MAX_DEPTH:
            if len(self.window) < WINDOW:
                self.window.append(message)
            else:
                self.window[int(random_() * WINDOW)] = message
        return message

    def _identity(self, sender: Person, date: int) -> dict[str, object]:
        hex_id = f"{self.rng.getrandbits(48):012x}{self.serial:08x}"
        domain = sender.address.partition("@")[2]
        host = f"mail.{DOMAIN}" if domain == DOMAIN else f"mx.{domain}"
        return {"hex": hex_id, "message_id": f"<{hex_id}@{host}>",
                "date": date, "date_header": format_date(date, zone_of(sender, date))}

    def _new_conversation(self) -> Message:
        random_ = self.random
        sender, to, cc = self._addressing()
        participants = tuple(sorted({p.address for p in (sender,) + to + cc}))
        # Messages without reply links are threaded on subject and participants: a new
        # conversation must not share both with an earlier one, or the two would join.
        for _ in range(20):
            index = int(random_() * len(self.pool.subjects))
            subject = self.pool.subjects[index]
            key = (self.pool.subject_keys[index], participants)
            if key not in self.conversations:
                break
        else:
            subject = f"{subject} ({self.serial})"
            key = (thread_subject(subject)[0], participants)
            self.renamed += 1
        self.conversations.add(key)
        kind = "new"
        if self.window and random_() < NEAR_DUPLICATE_RATE:
            text, kind = self._varied(_pick(random_, self.window).text), "near-duplicate"
        else:
            text = self._own_text(sender, to, short=False)
        date = self.start + int(random_() * (self.end - self.start))
        return Message(**self._identity(sender, date), sender=sender, to=to, cc=cc,
                       subject=subject, text=text, body=text, payloads=self._attachments(),
                       kind=kind)

    def _later(self, parent: Message) -> int:
        return parent.date + 600 + int(self.random() * 3 * DAY)

    def _reply(self, parent: Message) -> Message:
        random_ = self.random
        sender = _pick(random_, parent.to + parent.cc)
        cc: tuple[Person, ...] = ()
        if random_() < 0.5:      # reply to all
            cc = tuple(p for p in parent.to + parent.cc if p is not sender)[:3]
        text = self._own_text(sender, (parent.sender,), short=True)
        body = (f"{text}\n\nOn {parent.date_header}, {parent.sender.name} wrote:\n"
                f"{_quoted(parent.body)}")
        subject = parent.subject if parent.subject.startswith("Re: ") else \
            f"Re: {parent.subject}"
        return Message(**self._identity(sender, self._later(parent)), sender=sender,
                       to=(parent.sender,), cc=cc, subject=subject, text=text, body=body,
                       references=parent.references + (parent.message_id,),
                       in_reply_to=parent.message_id, depth=parent.depth + 1,
                       payloads=self._attachments(), kind="reply")

    def _forward(self, parent: Message) -> Message:
        random_ = self.random
        sender = _pick(random_, (parent.sender,) + parent.to + parent.cc)
        exclude = {sender.address}
        to = self._recipients(FORWARD_TO_COUNTS.pick(random_), exclude)
        cc = self._recipients(FORWARD_CC_COUNTS.pick(random_), exclude)
        text = self._own_text(sender, to, short=True).replace(
            "\n\n", f"\n\n{_pick(random_, FORWARD_NOTES)}\n\n", 1)
        body = (f"{text}\n\n---------- Forwarded message ---------\n"
                f"From: {parent.sender.header}\nDate: {parent.date_header}\n"
                f"Subject: {parent.subject}\nTo: {', '.join(p.header for p in parent.to)}\n\n"
                f"{_trimmed(parent.body)}")
        return Message(**self._identity(sender, self._later(parent)), sender=sender, to=to,
                       cc=cc, subject=f"Fwd: {parent.subject}", text=text, body=body,
                       references=parent.references + (parent.message_id,),
                       depth=parent.depth + 1, payloads=self._attachments(), kind="forward")


def render(message: Message) -> bytes:
    """The message as every mailbox holds it: everything but the delivery headers."""
    lines = [f"From: {message.sender.header}",
             "To: " + ",\n ".join(p.header for p in message.to)]
    if message.cc:
        lines.append("Cc: " + ",\n ".join(p.header for p in message.cc))
    lines += [f"Subject: {message.subject}", f"Date: {message.date_header}",
              f"Message-ID: {message.message_id}"]
    if message.in_reply_to:
        lines.append(f"In-Reply-To: {message.in_reply_to}")
    if message.references:
        lines.append("References: " + "\n ".join(message.references))
    lines.append("MIME-Version: 1.0")
    text_headers = 'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: 8bit\n\n'
    if not message.payloads:
        lines.append(text_headers + message.body + "\n")
        return "\n".join(lines).encode("utf-8")
    boundary = f"=_trawl_{message.hex}"
    lines.append(f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
                 f"This is a multi-part message in MIME format.\n\n--{boundary}\n"
                 + text_headers + message.body + "\n")
    separator = f"--{boundary}\n".encode("ascii")
    return b"".join([("\n".join(lines)).encode("utf-8")]
                    + [separator + payload.part for payload in message.payloads]
                    + [f"--{boundary}--\n".encode("ascii")])


# --- Writing ---------------------------------------------------------------------------------

@dataclass
class Mailbox:
    """One custodian's mail folder: mbox files rotated every MESSAGES_PER_MBOX messages, and
    loose .eml files in numbered sub-folders. Mbox bytes are buffered and appended in chunks."""
    person: Person
    directory: Path
    buffer_limit: int
    messages: int = 0
    attachments: int = 0
    mbox_files: int = 0
    eml_files: int = 0
    bytes_written: int = 0
    in_current_mbox: int = 0
    pending: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0

    def mbox_path(self, number: int) -> Path:
        return self.directory / f"mail-{number:03d}.mbox"

    def add_mbox(self, entry: bytes) -> None:
        if self.mbox_files == 0 or self.in_current_mbox == MESSAGES_PER_MBOX:
            self.flush()
            self.mbox_files += 1
            self.in_current_mbox = 0
            self.directory.mkdir(parents=True, exist_ok=True)
            self.mbox_path(self.mbox_files).write_bytes(b"")
        self.in_current_mbox += 1
        self.pending.append(entry)
        self.pending_bytes += len(entry)
        self.bytes_written += len(entry)
        if self.pending_bytes >= self.buffer_limit:
            self.flush()

    def add_eml(self, name: str, raw: bytes) -> None:
        folder = self.directory / "eml" / f"{self.eml_files // EML_PER_FOLDER:03d}"
        if self.eml_files % EML_PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.eml").write_bytes(raw)
        self.eml_files += 1
        self.bytes_written += len(raw)

    def flush(self) -> None:
        if self.pending:
            with open(self.mbox_path(self.mbox_files), "ab") as handle:
                handle.write(b"".join(self.pending))
            self.pending, self.pending_bytes = [], 0

    def mail_paths(self) -> list[str]:
        """The mbox files and the eml folder, relative to the corpus folder."""
        base = f"custodians/{self.directory.name}"
        paths = [f"{base}/{self.mbox_path(n).name}" for n in range(1, self.mbox_files + 1)]
        return paths + ([f"{base}/eml"] if self.eml_files else [])


def mailboxes_for(message: Message, rng: random.Random,
                  custodians: int) -> list[tuple[int, str]]:
    """(custodian index, folder) for each copy: the sender's Sent Items, every custodian
    recipient's Inbox; a message with no custodian on it lands in one chosen at random."""
    copies = []
    if message.sender.custodian is not None:
        copies.append((message.sender.custodian, "Sent Items"))
    for person in message.to + message.cc:
        if person.custodian is not None:
            copies.append((person.custodian, "Inbox"))
    return copies or [(rng.randrange(custodians), "Inbox")]


def delivery_headers(message: Message, person: Person, folder: str) -> bytes:
    if folder == "Sent Items":
        return b"X-Folder: Sent Items\n"
    return (f"Received: from mx1.{DOMAIN} by mailstore.{DOMAIN} with LMTP id "
            f"{message.hex[-8:]}{person.custodian:04x}; {message.date_header}\n"
            f"Delivered-To: {person.address}\nX-Folder: {folder}\n").encode("ascii")


@dataclass
class Tally:
    """What has been written, for truth.json."""
    messages_written: int = 0
    messages_unique: int = 0
    attachments_written: int = 0
    attachments_unique_in_unique_messages: int = 0
    threads: int = 0
    replies: int = 0
    forwards: int = 0
    near_duplicates: int = 0
    attachment_kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def count_message(self, message: Message, copies: int) -> None:
        self.messages_unique += 1
        self.messages_written += copies
        self.attachments_unique_in_unique_messages += len(message.payloads)
        self.attachments_written += copies * len(message.payloads)
        for payload in message.payloads:
            self.attachment_kinds[payload.kind] += copies
        self.threads += message.thread_starter
        self.replies += message.kind == "reply"
        self.forwards += message.kind == "forward"
        self.near_duplicates += message.kind == "near-duplicate"


def write_mail(spec: CorpusSpec, rng: random.Random, factory: MessageFactory,
               mailboxes: list[Mailbox], progress: Reporter) -> Tally:
    """Unique messages and their copies until exactly spec.items copies are written."""
    tally = Tally()
    people = factory.cast.custodians
    while tally.messages_written < spec.items:
        message = factory.next_message()
        copies = mailboxes_for(message, rng, len(mailboxes))
        copies = copies[:spec.items - tally.messages_written]
        common = render(message)
        # Delivery headers never hold a "From " line, so the message is quoted for the mbox
        # once and each copy's headers go in between the envelope line and the rest. Few
        # messages have a "From " anywhere; the others need no quoting, and are spared the scan.
        envelope = f"From {message.sender.address} {envelope_date(message.date)}\n".encode()
        if b"From " in common:
            entry = mbox_entry(envelope + common)
        else:
            entry = envelope + common + b"\n"
        for index, folder in copies:
            mailbox = mailboxes[index]
            delivery = delivery_headers(message, people[index], folder)
            if rng.random() < spec.eml_fraction:
                mailbox.add_eml(message.hex, delivery + common)
            else:
                mailbox.add_mbox(b"".join((envelope, delivery, entry[len(envelope):])))
            mailbox.messages += 1
            mailbox.attachments += len(message.payloads)
        before = tally.messages_written
        tally.count_message(message, len(copies))
        if tally.messages_written // REPORT_EVERY > before // REPORT_EVERY:
            progress(f"{tally.messages_written:,} of {spec.items:,} messages written")
    for mailbox in mailboxes:
        mailbox.flush()
    return tally


def copy_shared_files(mailboxes: list[Mailbox], out_dir: Path,
                      shared_corpus: Path | None) -> list[dict[str, object]]:
    """Each custodian's copies of the shared PST and MSG files (hard links where possible).
    Files missing from the shared corpus are skipped; the shared corpus is only read."""
    copied: list[dict[str, object]] = []
    if shared_corpus is None or not Path(shared_corpus).is_dir():
        return copied
    for mailbox in mailboxes:
        for folder, names in (("pst", SHARED_PST), ("msg", SHARED_MSG)):
            for name in names:
                source = Path(shared_corpus) / name
                if not source.is_file():
                    continue
                target = mailbox.directory / folder / source.name
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copyfile(source, target)
                copied.append({"path": target.relative_to(out_dir).as_posix(),
                               "source": name, "size": source.stat().st_size})
    return copied


def write_manifests(spec: CorpusSpec, out_dir: Path, mailboxes: list[Mailbox]) -> list[str]:
    """manifest.yaml (everything), manifest-mail.yaml (mbox and eml) and, when PST or MSG
    copies exist, manifest-pst.yaml (those only). Paths are relative to out_dir."""
    def sources(paths_of: Callable[[Mailbox], list[str]]) -> list[dict[str, object]]:
        entries = []
        for mailbox in mailboxes:
            paths = paths_of(mailbox)
            if paths:
                entries.append({"custodian": mailbox.person.name, "paths": paths,
                                "emails": [mailbox.person.address]})
        return entries

    def everything(mailbox: Mailbox) -> list[str]:
        has_files = mailbox.directory.is_dir() and any(mailbox.directory.iterdir())
        return [f"custodians/{mailbox.directory.name}"] if has_files else []

    def outlook(mailbox: Mailbox) -> list[str]:
        return [f"custodians/{mailbox.directory.name}/{folder}" for folder in ("pst", "msg")
                if (mailbox.directory / folder).is_dir()]

    written = []
    for name, paths_of in (("manifest.yaml", everything), ("manifest-mail.yaml",
                                                          Mailbox.mail_paths),
                           ("manifest-pst.yaml", outlook)):
        entries = sources(paths_of)
        if entries:
            manifest = {"case": f"bench-{spec.items}", "dedup": "global", "sources": entries}
            (out_dir / name).write_text(
                f"# Written by pipeline.bench.corpus (seed {spec.seed}).\n"
                + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
            written.append(name)
    return written


def generate_corpus(spec: CorpusSpec, out_dir: Path, seed_material: Path,
                    shared_corpus: Path | None, reporter: Reporter | None = None) -> dict:
    """Write the corpus under out_dir and return its truth (also written to truth.json).

    Layout: custodians/<slug>/mail-NNN.mbox (a new file every MESSAGES_PER_MBOX messages),
    custodians/<slug>/eml/NNN/<hex>.eml, custodians/<slug>/pst/ and msg/ (copies of the shared
    corpus's files), manifest.yaml (all of it), manifest-mail.yaml (mbox and eml only) and
    manifest-pst.yaml (PST and MSG only, when there are any), truth.json.

    Truth: `messages_written` (every copy; equals spec.items), `messages_unique`,
    `attachments_written` (in every copy), `attachments_unique_in_unique_messages`,
    `mail_items_expected` and `unique_mail_items_expected` (messages plus their attachments),
    `threads` (conversations), `replies`, `forwards`, `near_duplicates`, `per_custodian`
    {name: {messages, attachments, mbox_files, eml_files}}, `mbox_files`, `eml_files`,
    `bytes_written` (mbox and eml bytes), `copied_files` [{path, source, size}],
    `attachment_kinds` (attachments written, by kind), `custodians` {name: {address, folder}},
    `manifests` (the names written), `seed_pool` (what the seed material gave) and `spec`.
    """
    progress = reporter or silent
    out_dir = Path(out_dir)
    root = out_dir / "custodians"
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} already holds a corpus; remove it first")
    pool = load_seed_pool(Path(seed_material))
    progress(f"seed material: {pool.messages_read:,} messages, {len(pool.paragraphs):,} "
             f"paragraphs, {len(pool.subjects):,} subjects, {len(pool.names):,} names")
    rng = random.Random(spec.seed)
    cast = Cast.build(rng, pool, spec.custodians)
    factory = MessageFactory(spec, rng, pool, cast, make_payloads(rng, pool, ATTACHMENT_POOL))
    buffer_limit = max(64 << 10, min(8 << 20, BUFFER_BYTES // spec.custodians))
    mailboxes = [Mailbox(person, root / person.slug, buffer_limit)
                 for person in cast.custodians]
    root.mkdir(parents=True, exist_ok=True)
    # Nothing generated forms a reference cycle; the collector would only rescan the growing
    # set of conversations again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        tally = write_mail(spec, rng, factory, mailboxes, progress)
    finally:
        if collecting:
            gc.enable()
    copied = copy_shared_files(mailboxes, out_dir, shared_corpus) if spec.pst_copies else []
    manifests = write_manifests(spec, out_dir, mailboxes)
    truth = _truth(spec, pool, tally, mailboxes, copied, manifests)
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    progress(f"{tally.messages_written:,} messages ({tally.messages_unique:,} unique) in "
             f"{truth['mbox_files']} mbox and {truth['eml_files']:,} eml files, "
             f"{truth['bytes_written'] / 1e6:,.1f} MB")
    return truth


def _truth(spec: CorpusSpec, pool: SeedPool, tally: Tally, mailboxes: list[Mailbox],
           copied: list[dict[str, object]], manifests: list[str]) -> dict:
    counts = {key: value for key, value in asdict(tally).items() if key != "attachment_kinds"}
    return {
        "spec": {**asdict(spec), "years": list(spec.years)},   # as JSON gives it back
        "seed": spec.seed,
        **counts,
        "mail_items_expected": tally.messages_written + tally.attachments_written,
        "unique_mail_items_expected": (tally.messages_unique
                                       + tally.attachments_unique_in_unique_messages),
        "per_custodian": {m.person.name: {"messages": m.messages, "attachments": m.attachments,
                                          "mbox_files": m.mbox_files, "eml_files": m.eml_files}
                          for m in mailboxes},
        "mbox_files": sum(m.mbox_files for m in mailboxes),
        "eml_files": sum(m.eml_files for m in mailboxes),
        "bytes_written": sum(m.bytes_written for m in mailboxes),
        "copied_files": copied,
        "attachment_kinds": tally.attachment_kinds,
        "custodians": {m.person.name: {"address": m.person.address,
                                       "folder": f"custodians/{m.directory.name}"}
                       for m in mailboxes},
        "manifests": manifests,
        "seed_pool": {"messages": pool.messages_read, "paragraphs": len(pool.paragraphs),
                      "subjects": len(pool.subjects), "names": len(pool.names)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench.corpus",
                                     description="Write a seeded benchmark mail corpus.")
    parser.add_argument("--items", type=int, required=True,
                        help="top-level messages to write, every mailbox copy counted")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--seed-material", type=Path, required=True,
                        help="folder of SpamAssassin mboxes (trawl demo prepare writes them)")
    parser.add_argument("--shared-corpus", type=Path, default=None,
                        help="../shared/corpus, for per-custodian PST and MSG copies")
    parser.add_argument("--custodians", type=int, default=CorpusSpec.custodians)
    parser.add_argument("--seed", type=int, default=CorpusSpec.seed)
    args = parser.parse_args(argv)
    spec = CorpusSpec(items=args.items, custodians=args.custodians, seed=args.seed)
    started = time.monotonic()
    truth = generate_corpus(spec, args.out, args.seed_material, args.shared_corpus,
                            lambda line: print(line, file=sys.stderr, flush=True))
    seconds = time.monotonic() - started
    print(f"{truth['messages_written']:,} messages in {seconds:.1f}s "
          f"({truth['messages_written'] / seconds:,.0f}/s) under {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
