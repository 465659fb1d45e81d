"""Outlook .msg files: every class in the shared corpus, families, ids and failures.

Expected values were read independently of extract-msg: the raw property streams
(__substg1.0_XXXXYYYY) and the FILETIMEs in __properties_version1.0 were decoded with olefile
alone. Attachment hashes are recomputed here the same way, from the raw streams.
"""

import hashlib
import io
import logging
import shutil
import struct
from datetime import datetime, timezone

import olefile
import pytest

from pipeline.mail import Origin
from pipeline.records import WorkUnit
from pipeline.sources import detect_reader
from pipeline.sources.msg import MsgReader, is_outlook_msg, msg_items

from helpers import corpus_path

OLE_ATTACHMENT = "__attach_version1.0_#00000000"
EMBEDDED_STORAGE = "__substg1.0_3701000D"




def origin_for(path) -> Origin:
    return Origin(case="unit", custodian="Jane Smith", custodian_id="jane-smith",
                  source_path=str(path), source_format="msg", locator="file")


def read_items(context, *parts):
    path = corpus_path(*parts)
    return msg_items(path.read_bytes(), origin_for(path), context, None, "")


def top_item(context, *parts):
    items = read_items(context, *parts)
    assert items[0].type != "exception", items[0].exception_message
    return items[0]


def utc(*fields) -> datetime:
    return datetime(*fields, tzinfo=timezone.utc)


def raw_attachment_sha256s(path) -> list[str]:
    """SHA-256 of each attachment's raw data stream, read with olefile, not extract-msg."""
    with olefile.OleFileIO(str(path)) as ole:
        storages = sorted({entry[0] for entry in ole.listdir() if entry[0].startswith("__attach")})
        return [hashlib.sha256(ole.openstream([s, "__substg1.0_37010102"]).read()).hexdigest()
                for s in storages]


# --- Building real variants of corpus MSGs (none in the corpus embeds a message) ------------

def ole_bytes(writer) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def writer_copy_of(path):
    import extract_msg

    writer = extract_msg.OleWriter()
    msg = extract_msg.openMsg(str(path), delayAttachments=True)
    try:
        writer.fromMsg(msg)
    finally:
        msg.close()
    return writer


def declare_one_attachment(writer, path) -> None:
    """The root property header counts attachments (MS-OXMSG 2.4.1.1); say there is one."""
    with olefile.OleFileIO(str(path)) as ole:
        header = ole.openstream("__properties_version1.0").read()
    next_recipient, _, recipients, _ = struct.unpack("<IIII", header[8:24])
    writer.deleteEntry("__properties_version1.0")
    writer.addEntry("__properties_version1.0",
                    header[:8] + struct.pack("<IIII", next_recipient, 1, recipients, 1)
                    + header[24:])


def attachment_properties(attach_method: int) -> bytes:
    """An attachment's property stream: 8 reserved bytes, then PR_ATTACH_METHOD, PR_ATTACH_NUM."""
    return (b"\x00" * 8 + struct.pack("<IIq", 0x37050003, 6, attach_method)
            + struct.pack("<IIq", 0x0E210003, 6, 0))


def without_named_properties(properties: bytes, header_size: int) -> bytes:
    """Named properties (ids 0x8000+) resolve through the root's name table, so an inner
    message's own would point at the wrong names once embedded; leave them out."""
    body = properties[header_size:]
    entries = (body[i:i + 16] for i in range(0, len(body), 16))
    return b"".join(e for e in entries if struct.unpack("<I", e[:4])[0] >> 16 < 0x8000)


def msg_with_embedded_message(outer_path, inner_path, display_name: str) -> bytes:
    """The outer MSG with the inner one embedded as attachment 1 (PR_ATTACH_METHOD 5,
    ATTACH_EMBEDDED_MSG), laid out as Outlook does: the inner's storages and streams under
    __substg1.0_3701000D, its top-level property header cut from 32 to 24 bytes."""
    writer = writer_copy_of(outer_path)
    declare_one_attachment(writer, outer_path)
    writer.addEntry(OLE_ATTACHMENT, storage=True)
    writer.addEntry([OLE_ATTACHMENT, "__properties_version1.0"], attachment_properties(5))
    writer.addEntry([OLE_ATTACHMENT, "__substg1.0_3001001F"], display_name.encode("utf-16-le"))
    writer.addEntry([OLE_ATTACHMENT, EMBEDDED_STORAGE], storage=True)
    with olefile.OleFileIO(str(inner_path)) as inner:
        for entry in sorted(inner.listdir(streams=True, storages=True), key=len):
            if entry[0] == "__nameid_version1.0" or entry[-1].startswith("__substg1.0_8"):
                continue
            target = [OLE_ATTACHMENT, EMBEDDED_STORAGE, *entry]
            if inner.get_type(entry) == olefile.STGTY_STORAGE:
                writer.addEntry(target, storage=True)
                continue
            data = inner.openstream(entry).read()
            if entry == ["__properties_version1.0"]:
                data = data[:24] + without_named_properties(data, 32)
            elif entry[-1] == "__properties_version1.0":
                data = data[:8] + without_named_properties(data, 8)
            writer.addEntry(target, data)
    return ole_bytes(writer)


def msg_without_plain_body(path) -> bytes:
    writer = writer_copy_of(path)
    writer.deleteEntry("__substg1.0_1000001F")
    return ole_bytes(writer)


def msg_with_class(path, message_class: bytes) -> bytes:
    """The MSG re-labelled with another message class (an ANSI PR_MESSAGE_CLASS stream)."""
    writer = writer_copy_of(path)
    writer.deleteEntry("__substg1.0_001A001E")
    writer.addEntry("__substg1.0_001A001E", message_class)
    return ole_bytes(writer)


def msg_with_sender_smtp_address(path, address: str) -> bytes:
    """The MSG plus PR_SENDER_SMTP_ADDRESS, which Exchange writes beside an X.500 sender."""
    writer = writer_copy_of(path)
    writer.addEntry("__substg1.0_5D01001F", address.encode("utf-16-le"))
    return ole_bytes(writer)


def pkcs7_envelope(content: bytes) -> bytes:
    """A real S/MIME envelope (PKCS #7 enveloped-data) for a throwaway recipient."""
    pkcs7 = pytest.importorskip("cryptography.hazmat.primitives.serialization.pkcs7")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Trawl test recipient")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(1)
                   .not_valid_before(datetime(2020, 1, 1)).not_valid_after(datetime(2040, 1, 1))
                   .sign(key, hashes.SHA256()))
    return (pkcs7.PKCS7EnvelopeBuilder().set_data(content).add_recipient(certificate)
            .encrypt(serialization.Encoding.DER, []))


def encrypted_msg(path, envelope: bytes) -> bytes:
    """An ANSI MSG turned into what Outlook saves for an encrypted mail: class IPM.Note.SMIME,
    no readable body, and the envelope as its one attachment, smime.p7m."""
    writer = writer_copy_of(path)
    for stream in ("__substg1.0_001A001E", "__substg1.0_1000001E", "__substg1.0_10090102",
                   "__substg1.0_1013001E"):
        writer.deleteEntry(stream)
    writer.addEntry("__substg1.0_001A001E", b"IPM.Note.SMIME")
    declare_one_attachment(writer, path)
    writer.addEntry(OLE_ATTACHMENT, storage=True)
    writer.addEntry([OLE_ATTACHMENT, "__properties_version1.0"], attachment_properties(1))
    writer.addEntry([OLE_ATTACHMENT, "__substg1.0_37010102"], envelope)
    writer.addEntry([OLE_ATTACHMENT, "__substg1.0_3707001E"], b"smime.p7m")
    writer.addEntry([OLE_ATTACHMENT, "__substg1.0_370E001E"], b"application/pkcs7-mime")
    return ole_bytes(writer)


# --- Every MSG in the corpus ----------------------------------------------------------------

CORPUS_MSGS = [
    # (path parts, type, message class, subject)
    (("aleph", "piste.msg"), "email", "IPM.Note", "Ab auf die Piste!"),
    (("msg-extractor", "strangeDate.msg"), "email", "IPM.Note", "MSG Test File"),
    (("msg-extractor", "unicode.msg"), "email", "IPM.Note", "Test for TIF files"),
    (("ruby-msg", "Swetlana Novikova.msg"), "contact", "IPM.Contact", "Swetlana Novikova"),
    (("ruby-msg", "contact-plain.msg"), "contact", "IPM.Contact",
     "(full name) A completely bogus contact"),
    (("ruby-msg", "contact-unicode.msg"), "contact", "IPM.Contact",
     "(full name) A completely bogus contact"),
    (("ruby-msg", "note.msg"), "note", "IPM.StickyNote", "note sample"),
    (("ruby-msg", "qwerty_1-orig.msg"), "email", "IPM.Note", "qwerty"),
    (("ruby-msg", "qwerty_2-with_custom_properties.msg"), "email", "IPM.Note", "qwerty"),
    (("ruby-msg", "qwerty_3.msg"), "email", "IPM.Note", "qwerty"),
    (("ruby-msg", "test_Blammo.msg"), "post", "IPM.Post", "BlammoBlammo"),
]


@pytest.mark.corpus
@pytest.mark.parametrize("parts,kind,message_class,subject", CORPUS_MSGS,
                         ids=[parts[-1] for parts, *_ in CORPUS_MSGS])
def test_every_corpus_msg_opens_as_its_own_class(context, parts, kind, message_class, subject):
    path = corpus_path(*parts)
    data = path.read_bytes()
    item = top_item(context, *parts)
    assert (item.type, item.item_class, item.subject) == (kind, message_class, subject)
    assert item.level == 0 and item.parent_id is None and item.family_id == item.id
    assert item.mime_type == "application/vnd.ms-outlook"
    assert (item.size, item.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert item.md5 == hashlib.md5(data).hexdigest()
    assert item.importance == "normal"  # PR_IMPORTANCE is 1 in every one of them


@pytest.mark.corpus
def test_every_corpus_msg_file_is_claimed_by_the_msg_reader():
    for parts, *_ in CORPUS_MSGS:
        assert detect_reader(str(corpus_path(*parts))).name == "msg", parts


@pytest.mark.corpus
def test_email_fields_come_from_the_transport_headers_and_mapi_properties(context):
    item = top_item(context, "aleph", "piste.msg")
    assert item.from_ == "GMX Magazin <mailings@gmxnet.de>"
    assert item.from_address == "mailings@gmxnet.de"
    assert item.to == ["Alle Mitglieder von GMX <members@gmx.net>"]
    assert item.recipient_addresses == ["members@gmx.net"]
    # Date header "Sun, 28 Nov 2010 23:42:18 +0100"; PR_CLIENT_SUBMIT_TIME agrees in UTC.
    assert item.date == utc(2010, 11, 28, 22, 42, 18)
    assert item.date_original == "Sun, 28 Nov 2010 23:42:18 +0100"
    assert (item.date_utc_offset_minutes, item.date_status) == (60, "ok")
    assert item.received_date == utc(2010, 11, 28, 22, 42, 18)
    assert item.message_id == "<E5-bad037e6-elaine5029/3/2852-f493@mailings.gmx.net>"
    assert item.conversation_index == "01cb8f4d82ceb5d0bc9e7f15483e84fffc1ca1e53b87"
    assert item.headers.startswith("Return-Path: <mailings@gmxnet.de>")
    assert item.text_source == "plain" and "Mit dem Postfach auf die Piste" in item.body
    assert item.attachment_count == 0 and not item.has_attachments


@pytest.mark.corpus
def test_recipients_keep_their_kind_and_prefer_smtp_over_x500(context):
    item = top_item(context, "ruby-msg", "qwerty_2-with_custom_properties.msg")
    assert item.to == ["asdf"]  # a recipient with a display name and no address at all
    assert item.cc == ["Johnathan <johnno@nowhere.com>"]
    # PR_EMAIL_ADDRESS is "/O=FREEHILLS/.../CN=Lowecha"; PR_SMTP_ADDRESS is the one kept.
    assert item.bcc == ["Lowe, Charles <Charles.Lowe@freehills.com>"]
    assert item.recipient_addresses == ["johnno@nowhere.com", "charles.lowe@freehills.com"]
    assert item.message_id == "<CEB3518C2FA4D743BF752C106451B19E14944E@sydexmail1.freehills.com.au>"
    assert item.from_ is None  # an unsent draft: no sender properties at all
    assert item.date is None and item.date_status == "missing"
    assert item.received_date == datetime(2006, 11, 3, 0, 58, 26, 236000, tzinfo=timezone.utc)
    assert item.body.startswith("Charles Lowe\r\nData Analyst\r\nFreehills")


@pytest.mark.corpus
def test_the_sender_smtp_address_wins_over_the_x500_one(context, tmp_path):
    x500_only = top_item(context, "ruby-msg", "contact-unicode.msg")
    assert x500_only.from_ == ("Lowe, Charles </O=XXXXXXXXX/OU=FIRST ADMINISTRATIVE GROUP/"
                               "CN=RECIPIENTS/CN=LOWECHA>")  # kept: it is all the MSG holds
    data = msg_with_sender_smtp_address(corpus_path("ruby-msg", "contact-unicode.msg"),
                                        "Charles.Lowe@example.com")
    item = msg_items(data, origin_for(tmp_path / "c.msg"), context, None, "")[0]
    assert item.from_ == "Lowe, Charles <Charles.Lowe@example.com>"
    assert item.from_address == "charles.lowe@example.com"


@pytest.mark.corpus
def test_contacts_carry_company_addresses_and_phone_numbers(context):
    swetlana = top_item(context, "ruby-msg", "Swetlana Novikova.msg")
    assert swetlana.company == "Scalabium Software"
    assert swetlana.contact_addresses == ["support@scalabium.com"]
    assert swetlana.phone_numbers == []  # its three fax entries hold no number
    for name in ("contact-plain.msg", "contact-unicode.msg"):
        contact = top_item(context, "ruby-msg", name)
        assert contact.company is None  # PR_COMPANY_NAME is present but empty
        assert contact.contact_addresses == ["email@emailland.com"]
        assert contact.phone_numbers == ["(mobile) 0404 123 456"]
        assert contact.date == datetime(2007, 1, 17, 7, 4, 2, 658000, tzinfo=timezone.utc)


@pytest.mark.corpus
def test_a_sticky_note_keeps_its_text(context):
    note = top_item(context, "ruby-msg", "note.msg")
    assert note.body == "note sample\r\n\r\nJust any information to store in Outlook"
    assert note.date == datetime(2001, 5, 21, 13, 41, 38, 650000, tzinfo=timezone.utc)
    assert note.date_original == "2001-05-21T13:41:38.650000+00:00"
    assert note.date_utc_offset_minutes is None  # MAPI times are UTC with no sender offset


@pytest.mark.corpus
def test_a_post_has_its_sender_and_body(context):
    post = top_item(context, "ruby-msg", "test_Blammo.msg")
    assert post.from_ == "TripleNickel <TripleNickel@mapi32.net>"
    assert post.from_address == "triplenickel@mapi32.net"
    assert post.body == "Blam"
    assert post.conversation_index == "01c80288433b51e78827b3704cd189bafbc83ab1a15f"


@pytest.mark.corpus
def test_unicode_msg_and_its_two_attachments(context):
    path = corpus_path("msg-extractor", "unicode.msg")
    items = read_items(context, "msg-extractor", "unicode.msg")
    top = items[0]
    assert top.from_ == "Brian Zhou <brizhou@gmail.com>"
    assert (top.to, top.cc) == (["brianzhou@me.com"], ["Brian Zhou <brizhou@gmail.com>"])
    assert top.date == utc(2013, 11, 18, 8, 26, 24) and top.date_utc_offset_minutes == 120
    assert top.received_date == utc(2013, 11, 18, 8, 26, 29)
    assert top.message_id == "<CADtJ4eNjQSkGcBtVteCiTF+YFG89+AcHxK3QZ=-Mt48xygkvdQ@mail.gmail.com>"
    assert top.attachment_names == ["import OleFileIO.tif", "raised value error.tif"]
    assert top.attachment_count == 2 and top.has_attachments
    attachments = [item for item in items if item.type == "attachment"]
    assert [a.sha256 for a in attachments] == raw_attachment_sha256s(path)
    assert [a.size for a in attachments] == [969674, 1033142]
    for index, attachment in enumerate(attachments, start=1):
        assert attachment.parent_id == top.id and attachment.family_id == top.id
        assert (attachment.level, attachment.family_path) == (1, str(index))
        assert attachment.mime_type == "image/tiff"
    # Tika is down in unit tests: each TIFF is kept, with an exception saying why it has no text.
    assert {e.exception_item_id for e in items if e.type == "exception"} == {
        a.id for a in attachments}


@pytest.mark.corpus
def test_a_missing_sent_date_is_recorded_never_invented(context):
    # strangeDate.msg is an unsent draft (PR_MESSAGE_FLAGS 8): it has no Date header and no
    # PR_CLIENT_SUBMIT_TIME, only creation and modification times (2016-02-23 14:57:50).
    item = top_item(context, "msg-extractor", "strangeDate.msg")
    assert item.date is None and item.date_original is None
    assert item.date_status == "missing" and item.received_date is None
    assert item.to == ["time2talk@online-convert.com"]
    assert item.body.startswith("MSG test file\r\nPurpose: Provide example of this file type")


@pytest.mark.corpus
def test_an_rtf_only_body_is_turned_into_text(context, tmp_path):
    # strangeDate.msg's RTF body wraps HTML (\fromhtml1); drop its plain body to reach it.
    data = msg_without_plain_body(corpus_path("msg-extractor", "strangeDate.msg"))
    item = msg_items(data, origin_for(tmp_path / "rtf.msg"), context, None, "")[0]
    assert item.text_source == "html" and item.body_html
    assert item.body.startswith("MSG test file\n")
    assert "Purpose: Provide example of this file type" in item.body


# --- Detection ------------------------------------------------------------------------------

@pytest.mark.corpus
def test_rfc822_named_msg_is_left_to_the_eml_reader():
    path = corpus_path("aleph", "fnf.msg")
    head = path.read_bytes()[:4096]
    assert MsgReader().score(head, str(path)) == 0
    assert detect_reader(str(path)).name == "eml"


@pytest.mark.corpus
def test_scores_check_the_content_not_only_the_name(tmp_path):
    real = corpus_path("ruby-msg", "note.msg")
    renamed = tmp_path / "note.bin"
    shutil.copyfile(real, renamed)
    word = corpus_path("aleph", "doc.doc")
    reader = MsgReader()
    assert reader.score(real.read_bytes()[:4096], str(real)) == 85
    assert reader.score(renamed.read_bytes()[:4096], str(renamed)) == 70
    assert reader.score(word.read_bytes()[:4096], str(word)) == 0


@pytest.mark.corpus
def test_is_outlook_msg_tells_messages_from_other_ole_files():
    assert is_outlook_msg(corpus_path("ruby-msg", "note.msg").read_bytes())
    assert not is_outlook_msg(corpus_path("aleph", "doc.doc").read_bytes())
    assert not is_outlook_msg(corpus_path("aleph", "fnf.msg").read_bytes())
    assert not is_outlook_msg(corpus_path("aleph", "piste.msg").read_bytes()[:4096])


@pytest.mark.corpus
def test_the_reader_reads_the_file_it_is_given(context):
    path = corpus_path("ruby-msg", "test_Blammo.msg")
    unit = WorkUnit(case="unit", custodian="Jane Smith", custodian_id="jane-smith",
                    path=str(path), format="msg")
    items = list(MsgReader().read(unit, context))
    assert [(i.type, i.subject, i.source_format) for i in items] == [
        ("post", "BlammoBlammo", "msg")]


@pytest.mark.corpus
def test_msg_bytes_as_an_attachment_are_dispatched_to_the_msg_reader(context):
    from pipeline.families import blob_items

    data = corpus_path("ruby-msg", "note.msg").read_bytes()
    family = read_items(context, "msg-extractor", "unicode.msg")
    top, parent = family[0], family[1]  # parent: the first TIFF, one level down
    items = blob_items(data, "note.msg", None, origin_for("/evidence/x.pst"), context,
                       parent, "1/1")
    assert [(i.type, i.subject) for i in items] == [("note", "note sample")]
    assert (items[0].parent_id, items[0].family_id) == (parent.id, top.id)
    assert (items[0].level, items[0].family_path) == (2, "1/1")


# --- Families and ids -----------------------------------------------------------------------

@pytest.mark.corpus
def test_an_embedded_message_is_a_child_with_its_own_attachments(context, tmp_path):
    inner_path = corpus_path("msg-extractor", "unicode.msg")
    data = msg_with_embedded_message(corpus_path("aleph", "piste.msg"), inner_path,
                                     "Test for TIF files")
    items = msg_items(data, origin_for(tmp_path / "nested.msg"), context, None, "")
    top, embedded = items[0], items[1]
    assert top.subject == "Ab auf die Piste!"
    assert top.attachment_names == ["Test for TIF files.msg"] and top.attachment_count == 1
    assert (embedded.type, embedded.subject) == ("email", "Test for TIF files")
    assert embedded.file_name == "Test for TIF files.msg"
    assert (embedded.parent_id, embedded.family_id) == (top.id, top.id)
    assert (embedded.level, embedded.family_path) == (1, "1")
    assert embedded.from_ == "Brian Zhou <brizhou@gmail.com>"
    assert embedded.attachment_names == ["import OleFileIO.tif", "raised value error.tif"]
    grandchildren = [i for i in items if i.parent_id == embedded.id and i.type == "attachment"]
    assert [(g.family_path, g.level, g.family_id) for g in grandchildren] == [
        ("1/1", 2, top.id), ("1/2", 2, top.id)]
    assert [g.sha256 for g in grandchildren] == raw_attachment_sha256s(inner_path)


@pytest.mark.corpus
def test_ids_are_the_same_on_every_read(context, tmp_path):
    data = msg_with_embedded_message(corpus_path("aleph", "piste.msg"),
                                     corpus_path("ruby-msg", "note.msg"), "note sample")
    origin = origin_for(tmp_path / "nested.msg")
    first = [(i.id, i.sha256) for i in msg_items(data, origin, context, None, "")]
    second = [(i.id, i.sha256) for i in msg_items(data, origin, context, None, "")]
    assert first == second and len(first) == 2
    assert len({item_id for item_id, _ in first}) == 2


# --- Failures -------------------------------------------------------------------------------

@pytest.mark.corpus
def test_a_truncated_msg_becomes_an_exception_record(context, tmp_path):
    truncated = tmp_path / "truncated.msg"
    truncated.write_bytes(corpus_path("aleph", "piste.msg").read_bytes()[:4096])
    unit = WorkUnit(case="unit", custodian="Jane Smith", custodian_id="jane-smith",
                    path=str(truncated), format="msg")
    assert detect_reader(str(truncated)).name == "msg"
    items = list(MsgReader().read(unit, context))
    assert [(i.type, i.exception_reason) for i in items] == [("exception", "corrupt")]
    assert items[0].source_path == str(truncated)


@pytest.mark.corpus
def test_a_truncated_embedded_msg_is_kept_as_an_attachment(context):
    parent = top_item(context, "aleph", "piste.msg")
    data = corpus_path("ruby-msg", "note.msg").read_bytes()[:4096]
    items = msg_items(data, origin_for("/evidence/x.msg"), context, parent, "2")
    assert [(i.type, i.exception_reason) for i in items] == [("attachment", None),
                                                              ("exception", "corrupt")]
    assert items[0].sha256 == hashlib.sha256(data).hexdigest() and items[0].parent_id == parent.id
    assert items[1].exception_item_id == items[0].id


@pytest.mark.corpus
def test_an_ole_file_that_is_no_message_is_unsupported(context, tmp_path):
    word_named_msg = tmp_path / "letter.msg"
    shutil.copyfile(corpus_path("aleph", "doc.doc"), word_named_msg)
    unit = WorkUnit(case="unit", custodian="Jane Smith", custodian_id="jane-smith",
                    path=str(word_named_msg), format="msg")
    items = list(MsgReader().read(unit, context))
    assert [(i.type, i.exception_reason) for i in items] == [("exception", "unsupported")]


@pytest.mark.corpus
def test_a_class_extract_msg_does_not_know_is_read_generically_and_reported(context, tmp_path):
    data = msg_with_class(corpus_path("ruby-msg", "note.msg"), b"IPM.Trawl.Custom")
    items = msg_items(data, origin_for(tmp_path / "custom.msg"), context, None, "")
    top = items[0]
    assert (top.type, top.item_class, top.subject) == ("email", "IPM.Trawl.Custom",
                                                       "note sample")
    assert top.body == "note sample\r\n\r\nJust any information to store in Outlook"
    assert [(i.exception_reason, i.exception_item_id) for i in items[1:]] == [
        ("unsupported", top.id)]


@pytest.mark.corpus
def test_an_encrypted_msg_is_kept_with_an_encrypted_exception(context, tmp_path):
    envelope = pkcs7_envelope(b"Content-Type: text/plain\r\n\r\nThe secret ledger.\r\n")
    data = encrypted_msg(corpus_path("ruby-msg", "qwerty_1-orig.msg"), envelope)
    items = msg_items(data, origin_for(tmp_path / "secret.msg"), context, None, "")
    top = items[0]
    assert (top.type, top.item_class, top.subject) == ("email", "IPM.Note.SMIME", "qwerty")
    assert top.attachment_names == ["smime.p7m"] and not top.body
    envelope_item = next(i for i in items if i.type == "attachment")
    assert envelope_item.sha256 == hashlib.sha256(envelope).hexdigest()
    encrypted = [i for i in items if i.exception_reason == "encrypted"]
    assert [e.exception_item_id for e in encrypted] == [top.id]


@pytest.mark.corpus
def test_extract_msg_logging_is_quietened_only_when_nobody_configured_it(context):
    logger = logging.getLogger("extract_msg")
    saved = logger.level
    try:
        logger.setLevel(logging.NOTSET)
        read_items(context, "ruby-msg", "note.msg")
        assert logger.level == logging.WARNING
        logger.setLevel(logging.ERROR)
        read_items(context, "ruby-msg", "note.msg")
        assert logger.level == logging.ERROR
    finally:
        logger.setLevel(saved)
