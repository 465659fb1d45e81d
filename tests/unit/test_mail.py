"""RFC 822 parsing into items and families, on crafted messages and the shared corpus."""

import dataclasses
import email.mime.application
import email.mime.multipart
import email.mime.text
import email.message

import pytest

from pipeline.mail import Origin, email_items

from helpers import corpus_path

ORIGIN = Origin(case="unit", custodian="Jane Smith", custodian_id="jane-smith",
                source_path="/evidence/jane.mbox", source_format="mbox", locator="offset 0")




def message_with_family() -> bytes:
    inner = email.message.EmailMessage()
    inner["From"] = "Bob <bob@example.org>"
    inner["To"] = "jane@example.org"
    inner["Subject"] = "Inner message"
    inner["Message-ID"] = "<inner@example.org>"
    inner.set_content("The inner body mentions the ledger.")
    inner.add_attachment(b"Ledger: 10,000 paid in cash", maintype="text", subtype="plain",
                         filename="ledger.txt")

    outer = email.mime.multipart.MIMEMultipart()
    outer["From"] = "=?utf-8?q?Jos=C3=A9?= <jose@example.org>"
    outer["To"] = "Jane Smith <JANE@example.org>, bob@example.org"
    outer["Cc"] = "carol@example.org"
    outer["Subject"] = "Fwd: Inner message"
    outer["Date"] = "Tue, 03 Sep 2019 10:00:00 +0100"
    outer["Message-ID"] = "<outer@example.org>"
    outer["References"] = "<a@x> <b@x>"
    outer.attach(email.mime.text.MIMEText("See attached.", "plain", "utf-8"))
    forwarded = email.mime.multipart.MIMEBase("message", "rfc822")
    forwarded.set_payload([inner])
    forwarded.add_header("Content-Disposition", "attachment")
    outer.attach(forwarded)
    outer.attach(email.mime.application.MIMEApplication(b"%PDF-1.4 binary", Name="report.pdf"))
    return outer.as_bytes()


def by_type(items, kind):
    return [item for item in items if item.type == kind]


def test_email_fields_are_decoded_and_normalised(context):
    items = email_items(message_with_family(), ORIGIN, context)
    top = items[0]
    assert top.type == "email" and top.level == 0 and top.parent_id is None
    assert top.family_id == top.id
    assert top.from_ == "José <jose@example.org>"
    assert top.from_address == "jose@example.org"
    assert top.to == ["Jane Smith <JANE@example.org>", "bob@example.org"]
    assert top.recipient_addresses == ["jane@example.org", "bob@example.org",
                                       "carol@example.org"]
    assert top.date.isoformat() == "2019-09-03T09:00:00+00:00"
    assert top.date_utc_offset_minutes == 60
    assert top.message_id == "<outer@example.org>"
    assert top.references == ["<a@x>", "<b@x>"]
    assert top.body == "See attached."
    assert top.attachment_names == ["Inner message.eml", "report.pdf"]
    assert top.custodians == ["Jane Smith"]


def test_attachments_and_embedded_messages_form_one_family(context):
    items = email_items(message_with_family(), ORIGIN, context)
    top = items[0]
    inner = next(i for i in by_type(items, "email") if i.message_id == "<inner@example.org>")
    ledger = next(i for i in by_type(items, "attachment") if i.file_name == "ledger.txt")
    pdf = next(i for i in by_type(items, "attachment") if i.file_name == "report.pdf")
    assert (inner.parent_id, inner.level, inner.family_path) == (top.id, 1, "1")
    assert (ledger.parent_id, ledger.level, ledger.family_path) == (inner.id, 2, "1/1")
    assert ledger.family_id == pdf.family_id == top.id
    assert ledger.body == "Ledger: 10,000 paid in cash"
    assert ledger.text_source == "plain"
    assert pdf.family_path == "2"


def test_unreachable_tika_becomes_an_exception_record_and_the_attachment_is_kept(context):
    items = email_items(message_with_family(), ORIGIN, context)
    pdf = next(i for i in by_type(items, "attachment") if i.file_name == "report.pdf")
    (exception,) = by_type(items, "exception")
    assert exception.exception_item_id == pdf.id
    assert exception.exception_reason == "tika_unavailable"
    assert pdf.body is None and pdf.sha256 and pdf.size == len(b"%PDF-1.4 binary")


def test_ids_are_deterministic_and_depend_on_where_the_item_was_found(context):
    raw = message_with_family()
    first = [i.id for i in email_items(raw, ORIGIN, context)]
    again = [i.id for i in email_items(raw, ORIGIN, context)]
    elsewhere = [i.id for i in email_items(raw,
                                           dataclasses.replace(ORIGIN, locator="offset 99"),
                                           context)]
    assert first == again
    assert len(set(first)) == len(first)
    assert set(first).isdisjoint(elsewhere)


def test_garbage_still_yields_an_item_with_what_could_be_read(context):
    items = email_items(b"\x00\x01 not an email at all \xff\xfe", ORIGIN, context)
    assert [i.type for i in items] == ["email"]
    assert items[0].date_status == "missing"


def test_missing_charset_alias_and_8bit_headers_are_recorded(context):
    raw = (b"From: a@example.org\nSubject: caf\xe9\nContent-Type: text/plain; charset=DEFAULT\n\n"
           b"Gr\xfc\xdfe\n")
    (item,) = email_items(raw, ORIGIN, context)
    assert item.subject == "café"
    assert item.body == "Grüße"
    assert "raw 8-bit header" in item.decode_warnings
    assert "unknown charset: default" in item.decode_warnings


@pytest.mark.parametrize("name, subject, attachments", [
    ("email_attached_plaintext.eml", "This message has an email attachment", 1),
    ("email_multipart_nested.eml", "Nested multipart email", 0),
    ("email_base64.eml", "This message has a base64 encoded payload", 0),
    ("testThunderbirdEml.eml", "JUnit test message", 0),
])
def test_shared_corpus_emails(context, name, subject, attachments):
    raw = corpus_path("aleph", name).read_bytes()
    items = email_items(raw, ORIGIN, context)
    assert items[0].subject == subject
    assert items[0].attachment_count == attachments
    assert not by_type(items, "exception")


# --- telling a message from other header-like text ------------------------------------------

OUTLOOK_INVITE = (b"BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
                  b"VERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nDTSTART:20210824T170000Z\r\n"
                  b"X-MICROSOFT-CDO-ALLDAYEVENT:FALSE\r\nX-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n"
                  b"END:VEVENT\r\nEND:VCALENDAR\r\n")


@pytest.mark.parametrize("head, is_message", [
    (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody", True),
    (b"\r\nReceived: from x\r\nMessage-ID: <1@x>\r\n\r\n", True),
    (b"Subject: hi\nX-Mailer: mutt\n\nbody", True),
    # An Outlook meeting's calendar: header-like lines, many of them X- ones, and no mail header.
    (OUTLOOK_INVITE, False),
    (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane\r\nX-ABUID:1\r\nX-EVOLUTION:2\r\nEND:VCARD", False),
    (b"X-One: 1\nX-Two: 2\nX-Three: 3\n\nbody", False),
    (b"Subject: only one mail header\n\nbody", False),
    (b"Dear Sir,\nFrom: a@example.org\nTo: b@example.org\n", False),
], ids=["mail", "received", "subject-and-x", "icalendar", "vcard", "only-x", "one-header",
        "prose-first"])
def test_a_message_is_told_from_header_like_text(head, is_message):
    from pipeline.sources.eml import looks_like_rfc822

    assert looks_like_rfc822(head) is is_message
