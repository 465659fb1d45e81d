"""Archives at any depth, their safety limits, and loose files (no servers: text entries only)."""

import dataclasses
import gzip
import hashlib
import io
import random
import tarfile
import zipfile

import pytest

from pipeline.containers import container_kind, safe_entry_path
from pipeline.extract import TextExtractor
from pipeline.families import blob_items
from pipeline.mail import Origin, ParseContext
from pipeline.records import WorkUnit
from pipeline.sources import detect_reader

from helpers import corpus_path
from public_fixtures import public_file

ORIGIN = Origin(case="unit", custodian="Jane Smith", custodian_id="jane-smith",
                source_path="/evidence/bundle.zip", source_format="document", locator="file")

EMAIL = (b"From: alice@example.org\nTo: bob@example.org\nSubject: Deep inside\n"
         b"Message-ID: <deep@example.org>\n\nThe payment went through.\n")




def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_nested_archives_are_opened_at_any_depth_with_family_links(context):
    inner_zip = zip_of({"mail/deep.eml": EMAIL, "notes.txt": b"shredding schedule"})
    middle_tar = tar_of({"inner.zip": inner_zip})
    outer = zip_of({"middle.tar": middle_tar})
    items = blob_items(outer, "bundle.zip", None, ORIGIN, context, None, "")
    by_name = {item.file_name or item.subject: item for item in items}
    top, tar_item, zip_item = by_name["bundle.zip"], by_name["middle.tar"], by_name["inner.zip"]
    deep, notes = by_name["Deep inside"], by_name["notes.txt"]
    assert [top.level, tar_item.level, zip_item.level, deep.level] == [0, 1, 2, 3]
    assert deep.type == "email" and deep.parent_id == zip_item.id
    assert {i.family_id for i in items} == {top.id}
    assert deep.family_path == "1/1/1" and notes.family_path == "1/1/2"
    assert deep.folder_path == "mail/deep.eml"
    assert notes.body == "shredding schedule"
    assert top.attachment_names == ["middle.tar"]


def test_hostile_entry_names_are_neutralised():
    assert safe_entry_path("../../etc/passwd") == "etc/passwd"
    assert safe_entry_path("/abs/path.txt") == "abs/path.txt"
    assert safe_entry_path("C:\\Windows\\..\\..\\boot.ini") == "boot.ini"
    assert safe_entry_path("") == "unnamed"


def test_zip_bomb_is_refused_and_recorded(context):
    bomb = zip_of({"zeros.bin": bytes(80 << 20)})
    assert len(bomb) < 1 << 20
    items = blob_items(bomb, "bomb.zip", None, ORIGIN, context, None, "")
    assert [i.type for i in items] == ["document", "exception"]
    assert items[1].exception_reason == "zip_bomb"


def capped(context, max_attachment_bytes=1000, **ingest):
    """The context with a memory cap small enough for test files to go past it."""
    return ParseContext(context.extractor, dataclasses.replace(
        context.ingest, max_attachment_bytes=max_attachment_bytes, **ingest))


def test_entry_larger_than_the_cap_is_streamed_hashed_and_read(context):
    big = b"ledger entry " * 400
    items = blob_items(zip_of({"big.txt": big, "ok.txt": b"fine"}), "a.zip", None,
                       ORIGIN, capped(context), None, "")
    assert not [i for i in items if i.type == "exception"]
    (streamed,) = [i for i in items if i.file_name == "big.txt"]
    assert streamed.sha256 == hashlib.sha256(big).hexdigest()
    assert streamed.md5 == hashlib.md5(big).hexdigest()
    assert streamed.size == len(big) and streamed.body == big.decode()
    assert streamed.parent_id == items[0].id and streamed.family_path == "1"
    assert any(i.file_name == "ok.txt" and i.body == "fine" for i in items)


def test_streamed_text_keeps_only_the_first_max_text_chars(context):
    big = b"0123456789" * 500
    items = blob_items(tar_of({"long.txt": big}), "a.tar", None, ORIGIN,
                       capped(context, max_text_chars=25), None, "")
    (streamed,) = [i for i in items if i.file_name == "long.txt"]
    assert streamed.body == "0123456789012345678901234"
    assert streamed.sha256 == hashlib.sha256(big).hexdigest()
    assert streamed.decode_warnings == ["text truncated at 25 characters; the rest was not read"]


def test_archive_over_the_cap_inside_an_archive_is_hashed_not_opened(context):
    noise = random.Random(7).randbytes(3000)  # incompressible, so the ZIP is over the cap
    inner = zip_of({"noise.bin": noise})
    items = blob_items(tar_of({"inner.zip": inner}), "outer.tar", None, ORIGIN,
                       capped(context), None, "")
    assert [(i.type, i.file_name) for i in items] == [("document", "outer.tar"),
                                                      ("attachment", "inner.zip"),
                                                      ("exception", "inner.zip")]
    assert items[1].sha256 == hashlib.sha256(inner).hexdigest()
    assert items[2].exception_reason == "too_large"
    assert items[2].exception_item_id == items[1].id
    assert "not opened" in items[2].exception_message


def test_seven_zip_entry_over_the_cap_is_hashed_and_recorded_too_large(context):
    import py7zr

    big = b"x" * 5000
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w") as archive:
        archive.writestr(big, "big.txt")
        archive.writestr(b"fine", "ok.txt")
    items = blob_items(buffer.getvalue(), "a.7z", None, ORIGIN, capped(context), None, "")
    (hashed,) = [i for i in items if i.file_name == "big.txt" and i.type == "attachment"]
    assert hashed.sha256 == hashlib.sha256(big).hexdigest() and hashed.size == len(big)
    assert [(i.exception_reason, i.exception_item_id) for i in items if i.type == "exception"] \
        == [("too_large", hashed.id)]
    assert any(i.file_name == "ok.txt" and i.body == "fine" for i in items)


def test_gzip_bomb_is_stopped_while_streaming(context):
    bomb = gzip.compress(bytes(80 << 20))
    items = blob_items(bomb, "zeros.bin.gz", None, ORIGIN, capped(context), None, "")
    assert [(i.type, i.exception_reason) for i in items] == [("document", None),
                                                             ("exception", "zip_bomb")]


def test_gzip_is_opened_as_a_one_entry_container(context):
    items = blob_items(gzip.compress(b"ledger line"), "ledger.txt.gz", None, ORIGIN, context,
                       None, "")
    assert [(i.file_name, i.body) for i in items[1:]] == [("ledger.txt", "ledger line")]


def test_office_documents_are_documents_not_archives():
    docx = corpus_path("aleph", "hello world word.docx").read_bytes()
    assert container_kind(docx, "hello world word.docx") is None
    assert container_kind(zip_of({"a.txt": b"a"}), "x.zip") == "zip"


@pytest.mark.parametrize("name", ["badtar.tar", "badzip.zip", "bad7zip.7z"])
def test_link_entries_pointing_outside_are_recorded_never_followed(context, name):
    data = corpus_path("aleph", name).read_bytes()
    items = blob_items(data, name, None, ORIGIN, context, None, "")
    (link,) = [i for i in items if i.type == "exception"]
    assert link.exception_reason == "link_entry"
    assert "/ingestors/tests/fixtures/secret.txt" in link.exception_message


def test_password_protected_7z_is_an_encrypted_exception(context):
    data = corpus_path("aleph", "7z_password.7z").read_bytes()
    items = blob_items(data, "7z_password.7z", None, ORIGIN, context, None, "")
    assert [i.exception_reason for i in items if i.type == "exception"] == ["encrypted"]


def test_corrupt_archive_is_a_corrupt_exception(context):
    items = blob_items(b"PK\x03\x04 truncated nonsense", "broken.zip", None, ORIGIN, context,
                       None, "")
    assert [i.exception_reason for i in items if i.type == "exception"] == ["corrupt"]


def read_file(path, context):
    reader = detect_reader(str(path))
    unit = WorkUnit("unit", "Jane Smith", "jane-smith", str(path), reader.name)
    return reader.name, list(reader.read(unit, context))


def test_emlx_reads_the_announced_bytes_only(context):
    name, items = read_file(corpus_path("aleph", "plaintext.emlx"), context)
    assert name == "emlx"
    assert items[0].type == "email" and items[0].subject
    assert not [i for i in items if i.type == "exception"]


def test_truncated_emlx_is_kept_and_flagged(context, tmp_path):
    path = tmp_path / "cut.emlx"
    path.write_bytes(b"500\n" + EMAIL)
    _, items = read_file(path, context)
    assert items[0].subject == "Deep inside"
    assert [i.exception_reason for i in items if i.type == "exception"] == ["truncated"]


def test_empty_loose_file_is_a_document_with_an_empty_exception(context, tmp_path):
    path = tmp_path / "nothing.pdf"
    path.write_bytes(b"")
    name, items = read_file(path, context)
    assert name == "document"
    assert [(i.type, i.exception_reason) for i in items] == [("document", None),
                                                             ("exception", "empty")]
    assert items[1].exception_item_id == items[0].id


def stored_rar(name: str, data: bytes) -> bytes:
    """A RAR 4 archive holding one stored (uncompressed) file, built from the format's spec:
    no RAR writer is free software, and stored entries need no external decompressor."""
    import struct
    import zlib

    def block(head_type: int, flags: int, body: bytes) -> bytes:
        head = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
        return struct.pack("<H", zlib.crc32(head) & 0xFFFF) + head

    encoded = name.encode()
    file_header = struct.pack("<IIBIIBBHI", len(data), len(data), 3, zlib.crc32(data), 0,
                              20, 0x30, len(encoded), 0x20) + encoded
    return (b"Rar!\x1a\x07\x00" + block(0x73, 0, bytes(6)) + block(0x74, 0x8000, file_header)
            + data + block(0x7B, 0x4000, b""))


def test_rar_entries_are_read_like_any_other_archive(context):
    items = blob_items(stored_rar("minutes.txt", b"meeting at noon"), "evidence.rar", None,
                       ORIGIN, context, None, "")
    assert container_kind(stored_rar("a", b"a"), None) == "rar"
    assert [(i.type, i.file_name, i.body) for i in items[1:]] == [
        ("attachment", "minutes.txt", "meeting at noon")]


def test_damaged_rar_entry_is_a_corrupt_exception(context):
    whole = stored_rar("minutes.txt", b"meeting at noon")
    damaged = whole.replace(b"meeting at noon", b"meeting at nine")
    items = blob_items(damaged, "evidence.rar", None, ORIGIN, context, None, "")
    assert [i.exception_reason for i in items if i.type == "exception"] == ["corrupt"]


# --- compressed, encrypted and multi-volume RAR: rarfile's own test archives ----------------

def unar_files(path, tmp_path) -> dict[str, str]:
    """name -> SHA-256 of every file unar (Debian) extracts from the archive or volume set."""
    import shutil
    import subprocess

    command = shutil.which("unar")
    if command is None:
        pytest.skip("unar is not installed (apt-get install unar)")
    target = tmp_path / "unar"
    subprocess.run([command, "-q", "-f", "-D", "-o", str(target), str(path)], check=True,
                   capture_output=True, timeout=60)
    return {file.name: hashlib.sha256(file.read_bytes()).hexdigest()
            for file in target.rglob("*") if file.is_file()}


def rar_entries(name, context) -> dict[str, str]:
    _, items = read_file(public_file(f"rar/{name}"), context)
    assert [i for i in items if i.type == "exception"] == []
    assert all(i.body for i in items if i.type == "attachment")
    return {i.file_name: i.sha256 for i in items if i.type == "attachment"}


@pytest.mark.parametrize("name", ["rar3-solid.rar", "unicode.rar"])
def test_compressed_rar_entries_are_what_unar_extracts(context, tmp_path, name):
    assert rar_entries(name, context) == unar_files(public_file(f"rar/{name}"), tmp_path)


def test_solid_rar5_entries_are_the_files_the_rar3_one_holds(context):
    # unar 1.10 itself fails on this archive ("Attempted to read more data than was
    # available"); rarfile checks each entry's CRC, and the same two files are in rar3-solid.
    assert rar_entries("rar5-solid.rar", context) == rar_entries("rar3-solid.rar", context)


def test_rar_with_encrypted_entries_lists_each_as_encrypted(context):
    _, items = read_file(public_file("rar/rar5-psw.rar"), context)
    assert items[0].attachment_names == ["stest1.txt", "stest2.txt"]
    assert [(i.type, i.exception_reason) for i in items[1:]] == [("exception", "encrypted")] * 2


def test_rar_with_encrypted_headers_is_an_encrypted_exception(context):
    _, items = read_file(public_file("rar/rar5-hpsw.rar"), context)
    assert [(i.type, i.exception_reason) for i in items] == [("document", None),
                                                             ("exception", "encrypted")]
    assert "headers are encrypted" in items[1].exception_message


@pytest.mark.parametrize("kind", ["rar3", "rar5"])
def test_a_multi_volume_rar_is_read_from_its_first_volume(context, tmp_path, kind):
    first = public_file(f"rar/{kind}-vols.part1.rar")
    _, items = read_file(first, context)
    assert [i for i in items if i.type == "exception"] == []
    entries = {i.file_name: (i.size, i.sha256) for i in items if i.type == "attachment"}
    # bigfile.txt runs on through the other two volumes.
    assert entries["bigfile.txt"][0] == 205000 > first.stat().st_size
    assert {name: sha256 for name, (_, sha256) in entries.items()} == unar_files(first, tmp_path)
    for later in (2, 3):
        _, items = read_file(public_file(f"rar/{kind}-vols.part{later}.rar"), context)
        assert [(i.type, i.exception_reason) for i in items] == [("document", None),
                                                                 ("exception", "multi_volume")]


def test_file_over_the_memory_cap_is_hashed_as_a_stream_and_kept(context, tmp_path):
    path = tmp_path / "huge.bin"
    content = b"evidence " * 500
    path.write_bytes(content)
    reader = detect_reader(str(path))
    unit = WorkUnit("unit", "Jane Smith", "jane-smith", str(path), reader.name)
    small_tika = dataclasses.replace(context.extractor.tika, max_bytes=2000)
    items = list(reader.read(unit, ParseContext(TextExtractor(small_tika), capped(context).ingest)))
    assert [(i.type, i.exception_reason) for i in items] == [("document", None),
                                                             ("exception", "too_large")]
    assert items[0].sha256 == hashlib.sha256(content).hexdigest()
    assert items[0].size == len(content) and items[1].exception_item_id == items[0].id
    assert "tika.max_bytes" in items[1].exception_message


def test_loose_archive_over_the_memory_cap_is_opened_from_the_file(context, tmp_path):
    path = tmp_path / "export.zip"
    noise = random.Random(7).randbytes(3000)
    data = zip_of({"a.txt": b"first draft", "mail/b.eml": EMAIL, "noise.bin": noise})
    path.write_bytes(data)
    assert len(data) > 1000
    name, items = read_file(path, capped(context))
    assert name == "document"
    assert items[0].sha256 == hashlib.sha256(data).hexdigest() and items[0].size == len(data)
    assert items[0].attachment_names == ["a.txt", "mail/b.eml", "noise.bin"]
    assert [(i.type, i.file_name or i.subject) for i in items[1:4]] == [
        ("attachment", "a.txt"), ("email", "Deep inside"), ("attachment", "noise.bin")]
    assert items[1].body == "first draft" and items[2].body == "The payment went through."
    assert items[3].sha256 == hashlib.sha256(noise).hexdigest()
    # noise.bin (3,000 bytes, over the cap) is streamed; Tika is down in this context.
    assert [(i.exception_reason, i.exception_item_id) for i in items[4:]] == [
        ("tika_unavailable", items[3].id)]


def large_message(noise: bytes) -> bytes:
    """A message with a plain and an HTML body, a quoted-printable note, an attached message and
    a base64 attachment of `noise`, in nested multiparts, with a preamble and an epilogue."""
    import base64

    encoded = base64.encodebytes(noise)
    return (b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"
            b"Subject: Quarterly figures\r\nMessage-ID: <q3@example.org>\r\n"
            b"Date: Mon, 01 Jan 2001 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
            b"This is a multi-part message.\r\n--outer\r\n"
            b'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n'
            b"--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            b"The figures are attached.\r\nRegards  \r\n--inner\r\n"
            b"Content-Type: text/html\r\n\r\n<p>The figures are <b>attached</b>.</p>\r\n"
            b"--inner--\r\n\r\n--outer\r\nContent-Type: text/plain; name=note.txt\r\n"
            b"Content-Disposition: attachment; filename=note.txt\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"caf=C3=A9 =3D 5=\r\n=E2=82=AC\r\nsecond line \r\n--outer\r\n"
            b"Content-Type: message/rfc822\r\n\r\n"
            b"From: carol@example.org\r\nSubject: Earlier draft\r\n\r\nDraft body.\r\n"
            b"--outer\r\nContent-Type: application/octet-stream; name=figures.bin\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded.replace(b"\n", b"\r\n")
            + b"--outer--\r\nepilogue\r\n")


def test_loose_message_over_the_memory_cap_is_read_from_a_stream_as_the_parser_reads_it(
        context, tmp_path):
    noise = random.Random(7).randbytes(3000)
    path = tmp_path / "big.eml"
    path.write_bytes(large_message(noise))
    _, streamed = read_file(path, capped(context))                    # 1,000-byte cap
    _, parsed = read_file(path, capped(context, max_attachment_bytes=1 << 20))

    def fields(item):
        # The attached message is kept as the bytes it was sent as, where the parser's copy is
        # written out again (LF line breaks): its hashes, and so its id, differ on purpose.
        kept = item.subject != "Earlier draft"
        return (item.id if kept else None, item.type, item.file_name,
                item.sha256 if kept else None, item.size if kept else None, item.level,
                item.family_path, item.subject, item.from_, item.to, item.body, item.body_html,
                item.attachment_names, item.exception_reason)

    assert [fields(item) for item in streamed] == [fields(item) for item in parsed]
    message = streamed[0]
    assert message.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert message.body == "The figures are attached.\r\nRegards" and message.email_hash is None
    assert message.attachment_names == ["note.txt", "Earlier draft.eml", "figures.bin"]
    assert any(warning.startswith("read as a stream") for warning in message.decode_warnings)
    children = {item.file_name: item for item in streamed[1:] if item.type != "exception"}
    assert children["note.txt"].body == "café = 5€\r\nsecond line "
    [draft] = [item for item in streamed if item.type == "email" and item.level == 1]
    assert (draft.subject, draft.body, draft.family_path) == ("Earlier draft", "Draft body.", "2")
    assert draft.sha256 == hashlib.sha256(
        b"From: carol@example.org\r\nSubject: Earlier draft\r\n\r\nDraft body.").hexdigest()
    # 3,000 bytes, over the cap: streamed from its spooled file; Tika is down in this context.
    assert children["figures.bin"].sha256 == hashlib.sha256(noise).hexdigest()


@pytest.mark.parametrize("cut", [0, 500], ids=["whole", "truncated"])
def test_emlx_over_the_memory_cap_streams_its_message_only(context, tmp_path, cut):
    message = large_message(random.Random(3).randbytes(3000))
    path = tmp_path / "big.emlx"
    path.write_bytes(b"%d\n" % len(message) + message[:len(message) - cut]
                     + (b"" if cut else b"<?xml version='1.0'?><plist/>\n"))
    _, streamed = read_file(path, capped(context))
    _, parsed = read_file(path, capped(context, max_attachment_bytes=1 << 20))

    def fields(item):   # the attached message is kept as sent (see the test above)
        kept = item.subject != "Earlier draft"
        return (item.id if kept else None, item.type, item.sha256 if kept else None, item.body,
                item.exception_reason)

    assert [fields(i) for i in streamed] == [fields(i) for i in parsed]
    assert streamed[0].type == "email" and streamed[0].subject == "Quarterly figures"
    assert streamed[0].size == len(message) - cut
    assert [i.exception_reason for i in streamed if i.type == "exception"][-1:] == (
        ["truncated"] if cut else ["tika_unavailable"])


def test_a_streamed_body_part_is_read_to_four_times_max_text_chars(context, tmp_path):
    path = tmp_path / "long.eml"
    path.write_bytes(b"From: a@example.org\nSubject: long\n\n" + b"word " * 2000)
    _, items = read_file(path, capped(context, max_text_chars=100))
    [message] = items
    assert message.body == "word " * 20            # cut at 100 characters
    assert "a body part of 10000 bytes read to its first 400" in message.decode_warnings


def test_loose_message_with_no_header_end_in_reach_is_hashed_not_parsed(context, tmp_path,
                                                                        monkeypatch):
    import pipeline.families as families

    monkeypatch.setattr(families, "MAX_HEADER_BYTES", 500)
    path = tmp_path / "endless.eml"
    path.write_bytes(EMAIL.replace(b"\n\n", b"\n", 1).rstrip(b"\n") + b"x" * 1200)
    _, items = read_file(path, capped(context))
    assert [(i.type, i.exception_reason) for i in items] == [("document", None),
                                                             ("exception", "too_large")]
    assert "a message this large is not parsed" in items[1].exception_message
