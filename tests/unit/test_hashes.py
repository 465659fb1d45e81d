"""Tier 1: the email hash, the EDRM Message Identification Hash and thread subjects, in plain
Python (the Spark steps run these same functions as UDFs, except thread subjects of ASCII text,
which the JVM works out with the patterns checked here)."""

import random
import re
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.mail import Origin, email_items
from pipeline.transforms.hashes import (canonical_email, email_hash, message_id_hash,
                                        normalise_whitespace)
from pipeline.transforms.threads import (ASCII_WHITESPACE_RUN, REPLY_PREFIX_RUN,
                                         thread_subject)

SENT = datetime(2019, 7, 1, 10, 0, 0, tzinfo=timezone.utc)
ORIGIN = Origin("unit", "Jane Smith", "jane-smith", "/evidence/jane.mbox", "mbox", "offset 0")


def hash_of(**changes):
    fields = {"sender": "jane@example.org", "recipients": ["bob@example.org", "amy@example.org"],
              "subject": "Budget", "sent": SENT, "body": "Hello Bob,\n\nthe numbers.",
              "attachments": [("plan.txt", "aa" * 32), ("notes.txt", "bb" * 32)]}
    fields.update(changes)
    return email_hash(**fields)


def test_canonical_form_is_the_documented_json():
    text = canonical_email("Jane@Example.org ", ["b@x.org", "A@x.org", "a@x.org"], " Budget\tQ3 ",
                           SENT.astimezone(timezone(timedelta(hours=2))), "Hi\r\n  there\n",
                           [("z.txt", "CC"), ("a.txt", "dd")])
    assert text == ('{"attachments":[["a.txt","dd"],["z.txt","cc"]],"body":"Hi there",'
                    '"from":"jane@example.org","recipients":["a@x.org","b@x.org"],'
                    '"sent":"2019-07-01T10:00:00Z","subject":"Budget Q3"}')


def test_whitespace_in_body_and_subject_does_not_change_the_hash():
    assert hash_of(body="Hello   Bob,\r\n\r\n  the numbers.\r\n") == hash_of()
    assert hash_of(subject="  Budget ") == hash_of()
    assert normalise_whitespace("a\u00a0 b\n\tc ") == "a b c"


def test_recipient_order_case_and_repeats_do_not_change_the_hash():
    assert hash_of(recipients=["AMY@example.org", "bob@example.org", "amy@example.org"]) \
        == hash_of()


def test_attachment_order_does_not_matter_but_their_content_does():
    assert hash_of(attachments=[("notes.txt", "bb" * 32), ("plan.txt", "aa" * 32)]) == hash_of()
    assert hash_of(attachments=[("notes.txt", "bb" * 32), ("plan.txt", "ab" * 32)]) != hash_of()
    assert hash_of(attachments=[("notes.txt", "bb" * 32)]) != hash_of()


def test_the_same_instant_in_another_zone_is_the_same_sent_second():
    assert hash_of(sent=SENT.astimezone(timezone(timedelta(hours=-5)))) == hash_of()
    assert hash_of(sent=SENT.replace(microsecond=999_000)) == hash_of()
    assert hash_of(sent=SENT + timedelta(seconds=1)) != hash_of()
    assert hash_of(sent=None) != hash_of()


@pytest.mark.parametrize("changed", [{"body": "Hello Bob, the numbers!"},
                                     {"subject": "RE: Budget"},
                                     {"sender": "john@example.org"},
                                     {"recipients": ["bob@example.org"]}])
def test_any_content_change_changes_the_hash(changed):
    assert hash_of(**changed) != hash_of()


def raw_message(transport: str, message_id: str = "<m1@example.org>") -> bytes:
    return (f"{transport}From: Jane Smith <jane@example.org>\nTo: Bob <bob@example.org>, "
            f"amy@example.org\nSubject: Budget\nDate: Mon, 01 Jul 2019 12:00:00 +0200\n"
            f"Message-ID: {message_id}\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\n"
            "Hello Bob,\nthe numbers.\n--XX\nContent-Type: text/plain; name=plan.txt\n"
            "Content-Disposition: attachment; filename=plan.txt\n\nThe plan.\n--XX--\n"
            ).encode()


def parsed_hash(raw: bytes, context) -> str:
    """The email hash of a parsed message, its attachments taken from its child items."""
    email, *children = email_items(raw, ORIGIN, context)
    attachments = [(email.attachment_names[int(child.family_path) - 1], child.sha256)
                   for child in children if child.parent_id == email.id]
    return email_hash(email.from_address, email.recipient_addresses, email.subject, email.date,
                      email.body, attachments)


def test_transport_headers_and_message_id_never_take_part(context):
    delivered = ("Received: from mx1.example.org by mail.example.org; Mon, 1 Jul 2019 10:00:03\n"
                 "Delivered-To: bob@example.org\nReturn-Path: <jane@example.org>\n"
                 "X-Spam-Score: 0.1\nX-Mailer: Outlook\n")
    relayed = ("Received: from relay.example.net by mx9.example.net; Tue, 2 Jul 2019 08:00:00\n"
               "Received: from mx1.example.org by relay.example.net; Tue, 2 Jul 2019 07:59:00\n"
               "Delivered-To: amy@example.org\nX-Original-To: amy@example.org\n")
    first = parsed_hash(raw_message(delivered), context)
    assert parsed_hash(raw_message(relayed), context) == first
    assert parsed_hash(raw_message("", "<other@example.org>"), context) == first
    assert parsed_hash(raw_message(delivered).replace(b"The plan.", b"The new plan."),
                       context) != first


def test_message_identification_hash_is_md5_of_the_id_with_its_brackets():
    # Worked by hand: printf '%s' '<20020822195500.UAA06531@webnote.net>' | md5sum
    assert message_id_hash("<20020822195500.UAA06531@webnote.net>") \
        == "62e5ebd432c61ec4cd54ac17877e6327"
    assert message_id_hash(" <CEB3518C2FA4D743BF752C106451B19E14944E@sydexmail1.freehills.com.au>"
                           "\n") == "b311f8f3a75635458cc29547b90cc737"
    assert message_id_hash("20020822195500.UAA06531@webnote.net") \
        == "9d09ab38ea6f435abb9f4350ca3aec10"
    assert message_id_hash(None) is None and message_id_hash("  ") is None


@pytest.mark.parametrize("subject, expected", [
    ("Budget  Q3", ("budget q3", False)),
    ("RE: AW: Fwd:  Budget Q3", ("budget q3", True)),
    ("Re[2]: WG: budget q3", ("budget q3", True)),
    ("FW : Budget Q3", ("budget q3", True)),
    ("Regarding: Budget Q3", ("regarding: budget q3", False)),
    (None, ("", False)),
])
def test_thread_subject_strips_reply_and_forward_prefixes(subject, expected):
    assert thread_subject(subject) == expected


def test_the_jvm_whitespace_run_is_what_str_split_takes_for_whitespace_in_ascii():
    for character in map(chr, range(128)):
        assert bool(re.fullmatch(ASCII_WHITESPACE_RUN, character)) == character.isspace(), \
            repr(character)


def test_one_run_of_reply_prefixes_is_removing_them_one_at_a_time():
    pieces = ["re", "RE", "Fw", "fwd", "AW", "wg", "sv", "vs", "antw", "tr", ":", " : ", "[2]",
              "(12)", "[x]", " ", "Budget", "Regarding"]
    rng = random.Random(20251127)
    for _ in range(5000):
        subject = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        text = normalise_whitespace(subject)
        stripped = re.sub(REPLY_PREFIX_RUN, "", text, count=1)
        assert (stripped.strip().lower(), stripped != text) == thread_subject(subject), subject
