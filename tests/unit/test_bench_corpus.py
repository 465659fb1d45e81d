"""The benchmark corpus generator: its truth is checked against an independent re-parse of what
it wrote (mailbox.mbox and email), never against its own bookkeeping."""

from __future__ import annotations

import hashlib
import io
import json
import mailbox
import re
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest

from pipeline.bench import corpus
from pipeline.bench.corpus import CorpusSpec, generate_corpus, pdf_bytes
from pipeline.demo import mbox_entry
from pipeline.manifest import load_manifest
from pipeline.sources.mbox import iter_messages
from pipeline.transforms.ingest import walk_files

REAL_SEED = Path(__file__).resolve().parents[2] / "var" / "demo" / "mail"
DELIVERY_HEADERS = re.compile(rb"\A(?:(?:Received|Delivered-To|X-Folder): [^\n]*\n)+")
QUOTED_FROM = re.compile(rb"(?m)^>(>*From )")

SEED_MESSAGES = [
    b"From: Harriet Quinn <harriet@lists.example>\nSubject: [Team] Re: Budget review for "
    b"the spring quarter\n\nThe figures for the spring quarter are in and the travel line is "
    b"over by about twelve percent.\nWe should talk about it before the board meets again.\n\n"
    b"Please bring the receipts from the conference in March so that we can reconcile them "
    b"against the card statements.\n\n> quoted lines are never taken as text\n> at all\n",
    b"From: =?utf-8?q?Se=C3=A1n_Murphy?= <sean@example.net>\nSubject: =?utf-8?q?Caf=C3=A9_"
    b"opening_hours?=\nContent-Type: text/plain; charset=latin-1\n"
    b"Content-Transfer-Encoding: quoted-printable\n\nThe caf=E9 on the corner now opens at "
    b"seven in the morning and closes at nine in the evening on weekdays.\n\nFrom the first "
    b"of next month they will also serve breakfast to anyone who books a table in advance.\n",
    b"From: Priya Lal <priya@example.org>\nSubject: Minutes of the licensing committee\n"
    b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n"
    b"Content-Type: text/plain\n\nThe committee agreed to defer the decision on the late "
    b"licence until the police report is available to all members.\n\nA further meeting will "
    b"be held on the fourteenth, in the small room at the town hall, starting at ten.\n--b1\n"
    b"Content-Type: application/octet-stream\nContent-Disposition: attachment; "
    b"filename=\"x.bin\"\n\nAAAA\n--b1--\n",
    b"From: Mail Delivery System <mailer@example.com>\nSubject: Delivery failure\n\n"
    b"----------------------------------------\nshort\n",
    b"From: Owen Hart <owen@example.com>\nSubject: Keys for the evidence store\n\n"
    b"I have left the spare keys for the evidence store with the front desk, signed out in "
    b"the book under my name.\n\nIf anyone needs access over the weekend, call the duty "
    b"sergeant first and he will arrange for someone to meet you there.\n",
]


def write_seed(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "ham.mbox").write_bytes(b"".join(mbox_entry(raw) for raw in SEED_MESSAGES))
    (folder / "spam.mbox").write_bytes(mbox_entry(
        b"From: Winner <win@spam.example>\nSubject: You have won a prize worth claiming "
        b"today\n\nClaim the prize you have won by sending your bank details to the address "
        b"below before the end of the week.\n"))
    return folder


def write_shared(folder: Path) -> Path:
    """A stand-in shared corpus with two of the seven files (the rest are missing)."""
    (folder / "aleph").mkdir(parents=True)
    (folder / "ruby-msg").mkdir()
    (folder / "aleph" / "testPST.pst").write_bytes(b"!BDN" + b"\0" * 60)
    (folder / "ruby-msg" / "test_Blammo.msg").write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 60)
    return folder


@dataclass(frozen=True)
class Copy:
    custodian: str      # the custodian folder's name
    path: Path
    raw: bytes          # as the reader of that format gives it back
    message: EmailMessage


def read_copies(out: Path) -> list[Copy]:
    parser = BytesParser(policy=policy.default)
    copies = []
    for folder in sorted((out / "custodians").iterdir()):
        for path in sorted(folder.glob("mail-*.mbox")):
            box = mailbox.mbox(path, create=False)
            for key in box.iterkeys():
                raw = QUOTED_FROM.sub(rb"\1", box.get_bytes(key))
                copies.append(Copy(folder.name, path, raw, parser.parsebytes(raw)))
        for path in sorted(folder.glob("eml/*/*.eml")):
            raw = path.read_bytes()
            copies.append(Copy(folder.name, path, raw, parser.parsebytes(raw)))
    return copies


def addresses(message: EmailMessage, *headers: str) -> list[str]:
    return [address.lower() for header in headers
            for _, address in getaddresses(message.get_all(header, []))]


def attachments(message: EmailMessage) -> list[EmailMessage]:
    return [part for part in message.walk() if part.get_content_disposition() == "attachment"]


SPEC = CorpusSpec(items=500, custodians=5, seed=11, attachment_fraction=0.3, eml_fraction=0.1)


@pytest.fixture(scope="module")
def seed(tmp_path_factory) -> Path:
    return write_seed(tmp_path_factory.mktemp("seed") / "mail")


@pytest.fixture(scope="module")
def generated(tmp_path_factory, seed):
    out = tmp_path_factory.mktemp("corpus")
    shared = write_shared(tmp_path_factory.mktemp("shared"))
    truth = generate_corpus(SPEC, out, seed, shared)
    return out, truth, read_copies(out)


def by_message_id(copies: list[Copy]) -> dict[str, list[Copy]]:
    grouped: dict[str, list[Copy]] = defaultdict(list)
    for copy in copies:
        grouped[copy.message["Message-ID"]].append(copy)
    return grouped


def test_every_copy_is_counted_and_truth_json_is_what_was_returned(generated):
    out, truth, copies = generated
    assert len(copies) == truth["messages_written"] == SPEC.items
    assert json.loads((out / "truth.json").read_text()) == truth
    held = Counter(copy.custodian for copy in copies)
    folders = {entry["folder"].split("/")[-1]: name
               for name, entry in truth["custodians"].items()}
    assert {folders[folder]: count for folder, count in held.items()} == {
        name: entry["messages"] for name, entry in truth["per_custodian"].items()
        if entry["messages"]}
    assert truth["mbox_files"] == len(list(out.glob("custodians/*/mail-*.mbox")))
    assert truth["eml_files"] == len(list(out.glob("custodians/*/eml/*/*.eml"))) > 0
    assert truth["bytes_written"] == sum(path.stat().st_size for path in
                                         out.glob("custodians/*/mail-*.mbox")) + sum(
        path.stat().st_size for path in out.glob("custodians/*/eml/*/*.eml"))


def test_unique_messages_and_attachments_match_a_reparse(generated):
    _, truth, copies = generated
    grouped = by_message_id(copies)
    assert len(grouped) == truth["messages_unique"] < truth["messages_written"]
    written = [part for copy in copies for part in attachments(copy.message)]
    assert len(written) == truth["attachments_written"] > 0
    unique = sum(len(attachments(group[0].message)) for group in grouped.values())
    assert unique == truth["attachments_unique_in_unique_messages"]
    assert truth["mail_items_expected"] == len(copies) + len(written)
    assert truth["unique_mail_items_expected"] == len(grouped) + unique
    kinds = Counter(part.get_filename().rsplit(".", 1)[1] for part in written)
    assert kinds == {kind: count for kind, count in truth["attachment_kinds"].items() if count}
    payloads = Counter(part.get_filename() for part in written)
    assert max(payloads.values()) > 1, "attachments come from a pool and must recur"


def test_every_message_parses_without_defects(generated):
    _, _, copies = generated
    for copy in copies:
        for part in copy.message.walk():
            assert not part.defects, (copy.path, part.defects)
        for header in ("From", "To", "Cc", "Subject", "Date", "Message-ID"):
            value = copy.message[header]
            assert value is None or not value.defects, (copy.path, header, value.defects)
        assert copy.message.get_body(("plain",)) is not None


def test_copies_differ_only_in_their_delivery_headers(generated):
    _, _, copies = generated
    several = 0
    for message_id, group in by_message_id(copies).items():
        contents = {DELIVERY_HEADERS.sub(b"", copy.raw) for copy in group}
        assert len(contents) == 1, message_id
        if len(group) > 1:
            several += 1
            assert len({copy.raw for copy in group}) == len(group), message_id
            assert len({copy.custodian for copy in group}) == len(group), message_id
    assert several > 0


def test_each_custodian_on_a_message_holds_a_copy(generated):
    _, truth, copies = generated
    folder_of = {entry["address"]: entry["folder"].split("/")[-1]
                 for entry in truth["custodians"].values()}
    short = 0
    for message_id, group in by_message_id(copies).items():
        message = group[0].message
        expected = {folder_of[a] for a in addresses(message, "From", "To", "Cc")
                    if a in folder_of}
        holders = {copy.custodian for copy in group}
        if not expected:
            assert len(group) == 1, message_id
        elif holders != expected:
            # Only the last message may be cut short, when the item count runs out.
            assert holders < expected, message_id
            short += 1
        sender = folder_of.get(addresses(message, "From")[0])
        for copy in group:
            folder = "Sent Items" if copy.custodian == sender else "Inbox"
            assert copy.message["X-Folder"] == folder
    assert short <= 1


def test_replies_and_forwards_point_at_earlier_messages_in_the_corpus(generated):
    _, truth, copies = generated
    grouped = by_message_id(copies)
    first = {message_id: group[0].message for message_id, group in grouped.items()}
    starters = 0
    for message_id, message in first.items():
        references = message.get("References", "").split()
        parent_id = message.get("In-Reply-To") or (references[-1] if references else None)
        if parent_id is None:
            starters += 1
            continue
        assert parent_id in first and set(references) <= set(first), message_id
        parent = first[parent_id]
        assert parsedate_to_datetime(message["Date"]) > parsedate_to_datetime(parent["Date"])
        if message.get("In-Reply-To"):
            assert message["Subject"] in (f"Re: {parent['Subject']}", parent["Subject"])
            assert f"{parent['Date']}, " in message.get_body(("plain",)).get_content()
        else:
            assert message["Subject"] == f"Fwd: {parent['Subject']}"
    assert starters == truth["threads"]
    assert truth["replies"] > 0 and truth["forwards"] > 0


def test_dates_fall_within_the_years_in_several_time_zones(generated):
    _, _, copies = generated
    first, last = SPEC.years
    offsets = set()
    for copy in copies:
        sent = parsedate_to_datetime(copy.message["Date"])
        assert first <= sent.year <= last and sent.tzinfo is not None
        offsets.add(sent.utcoffset())
    assert len(offsets) >= 3


def test_from_lines_in_bodies_are_quoted_so_both_mbox_readers_agree(generated):
    out, _, _ = generated
    quoted = 0
    for path in sorted(out.glob("custodians/*/mail-*.mbox")):
        data = path.read_bytes()
        quoted += len(re.findall(rb"(?m)^>From the first", data))
        with open(path, "rb") as handle:
            ours = [raw for _, raw in iter_messages(handle, 0, None)]
        assert len(ours) == len(mailbox.mbox(path, create=False))
    assert quoted > 0, "the seed's 'From the first' paragraph should appear in some body"


def test_same_spec_and_seed_material_give_identical_bytes(tmp_path, seed):
    def digests(out: Path, seed_number: int) -> dict[str, str]:
        spec = CorpusSpec(items=120, custodians=3, seed=seed_number, attachment_fraction=0.5)
        generate_corpus(spec, out, seed, None)
        return {path.relative_to(out).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
                for path in sorted(out.rglob("*")) if path.is_file()}

    first = digests(tmp_path / "a", 5)
    assert digests(tmp_path / "b", 5) == first and len(first) > 4
    assert digests(tmp_path / "c", 6) != first


def test_attached_documents_are_structurally_valid(generated):
    _, _, copies = generated
    seen = set()
    for copy in copies:
        for part in attachments(copy.message):
            name, data = part.get_filename(), part.get_content()
            if name in seen:
                continue
            seen.add(name)
            kind = name.rsplit(".", 1)[1]
            if kind == "pdf":
                check_pdf(data)
            elif kind in ("docx", "xlsx"):
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    assert archive.testzip() is None
                    main = "word/document.xml" if kind == "docx" else "xl/workbook.xml"
                    assert {"[Content_Types].xml", "_rels/.rels", main} <= set(
                        archive.namelist())
                    for member in archive.namelist():
                        ElementTree.fromstring(archive.read(member))
                if kind == "xlsx":
                    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
                    assert sheet["A1"].value == "Date" and sheet.max_row > 1
                    assert isinstance(sheet["C2"].value, float)
            elif kind == "html":
                assert data.startswith("<html>") and "<p>" in data
            else:
                assert kind == "txt" and len(data) > 40
    assert {name.rsplit(".", 1)[1] for name in seen} == {"txt", "html", "pdf", "docx", "xlsx"}


def check_pdf(data: bytes) -> None:
    assert data.startswith(b"%PDF-1.4\n") and data.rstrip().endswith(b"%%EOF")
    start = int(re.search(rb"startxref\n(\d+)\n%%EOF", data)[1])
    assert data[start:start + 5] == b"xref\n"
    table = re.match(rb"xref\n0 (\d+)\n((?:\d{10} \d{5} [fn] \n)+)trailer\n", data[start:])
    assert table, "the xref table must follow startxref"
    entries = re.findall(rb"(\d{10}) \d{5} ([fn]) \n", table[2])
    assert len(entries) == int(table[1])
    for number, (offset, kind) in enumerate(entries[1:], start=1):
        assert kind == b"n" and data[int(offset):].startswith(b"%d 0 obj\n" % number)
    length = int(re.search(rb"/Length (\d+) >>\nstream\n", data)[1])
    stream = data.index(b"stream\n") + len(b"stream\n")
    assert data[stream + length:].startswith(b"\nendstream")


def test_pdf_text_with_parentheses_and_backslashes_is_escaped():
    data = pdf_bytes("Report (draft)", ["C:\\cases\\2019 (closed)", "caf\u00e9 \u2013 fine"])
    check_pdf(data)
    assert b"(Report \\(draft\\)) Tj" in data
    assert b"(C:\\\\cases\\\\2019 \\(closed\\)) Tj" in data


def test_manifests_split_the_corpus_by_format(generated):
    out, truth, _ = generated
    everything = load_manifest(out / "manifest.yaml")
    assert everything.case == f"bench-{SPEC.items}" and everything.dedup == "global"
    assert {s.custodian for s in everything.sources} <= set(truth["per_custodian"])

    def files(manifest_name: str) -> set[str]:
        manifest = load_manifest(out / manifest_name)
        for source in manifest.sources:
            assert source.emails == (truth["custodians"][source.custodian]["address"],)
        return {Path(path).relative_to(out.resolve()).as_posix()
                for source in manifest.sources for root in source.paths
                for path in walk_files(root)}

    mail, outlook = files("manifest-mail.yaml"), files("manifest-pst.yaml")
    assert mail | outlook == files("manifest.yaml") and not mail & outlook
    assert {Path(name).suffix for name in mail} == {".mbox", ".eml"}
    assert outlook == {entry["path"] for entry in truth["copied_files"]}
    assert {entry["source"] for entry in truth["copied_files"]} == {
        "aleph/testPST.pst", "ruby-msg/test_Blammo.msg"}
    assert len(truth["copied_files"]) == 2 * SPEC.custodians


def test_big_mailboxes_rotate_into_several_mbox_files(tmp_path, seed, monkeypatch):
    monkeypatch.setattr(corpus, "MESSAGES_PER_MBOX", 30)
    spec = CorpusSpec(items=200, custodians=2, seed=3, eml_fraction=0.0)
    truth = generate_corpus(spec, tmp_path, seed, None)
    sizes = [len(mailbox.mbox(path, create=False))
             for path in sorted(tmp_path.glob("custodians/*/mail-*.mbox"))]
    assert len(sizes) == truth["mbox_files"] > 2 and max(sizes) == 30
    assert sum(sizes) == 200
    assert not (tmp_path / "manifest-pst.yaml").exists()


def test_an_existing_corpus_is_never_written_over(tmp_path, seed):
    spec = CorpusSpec(items=10, custodians=2)
    generate_corpus(spec, tmp_path, seed, None)
    with pytest.raises(FileExistsError):
        generate_corpus(spec, tmp_path, seed, None)


def test_seed_material_without_usable_text_is_refused(tmp_path):
    (tmp_path / "empty.mbox").write_bytes(mbox_entry(b"Subject: hi\n\nshort\n"))
    with pytest.raises(ValueError, match="no usable message text"):
        generate_corpus(CorpusSpec(items=10), tmp_path / "out", tmp_path, None)


@pytest.mark.parametrize("bad", [{"items": 0}, {"items": 5, "eml_fraction": 1.5},
                                 {"items": 5, "years": (2021, 2015)},
                                 {"items": 5, "custodians": 0}])
def test_impossible_specs_are_refused(bad):
    with pytest.raises(ValueError):
        CorpusSpec(**bad)


def test_the_real_seed_material_gives_messages_without_defects(tmp_path):
    if not REAL_SEED.is_dir():
        pytest.skip(f"no demo mail at {REAL_SEED} (run `trawl demo prepare`)")
    truth = generate_corpus(CorpusSpec(items=400, custodians=4), tmp_path, REAL_SEED, None)
    copies = read_copies(tmp_path)
    assert len(copies) == truth["messages_written"]
    for copy in copies:
        assert not any(part.defects for part in copy.message.walk()), copy.path
        copy.message.get_body(("plain",)).get_content()
