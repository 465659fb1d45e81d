"""A message read as a stream (pipeline.mime_stream) gives the leaves Python's parser gives,
decoded to the same bytes, however its lines are cut."""

from __future__ import annotations

import base64
import email
import email.policy
import io
import mailbox
from pathlib import Path

import pytest

from pipeline import mime_stream
from pipeline.config import load_config
from pipeline.mail import _embedded_message_bytes, _leaf_parts, _payload_bytes
from pipeline.mime_stream import MimeStreamError, spool_message

from helpers import CORPUS, corpus_path

# Python's parser reads these differently on purpose: a delivery report's header blocks become
# text parts of their own, and an attached message is written out again, not kept as sent.
PARSED_OTHERWISE = {"message/delivery-status", "message/rfc822"}


def parser_leaves(raw: bytes) -> list[tuple[str, bytes]]:
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    return [(part.get_content_type(), _embedded_message_bytes(part)
             if part.get_content_type() == "message/rfc822" else _payload_bytes(part))
            for part in _leaf_parts(message)]


def streamed_leaves(raw: bytes, tmp_path: Path) -> list[tuple[str, bytes]]:
    directory = tmp_path / f"spool-{len(list(tmp_path.iterdir()))}"
    directory.mkdir()
    _, leaves = spool_message(io.BytesIO(raw), directory, 1 << 20)
    return [(leaf.headers.get_content_type(), leaf.path.read_bytes()) for leaf in leaves]


def agrees(raw: bytes, tmp_path: Path) -> bool:
    want, got = parser_leaves(raw), streamed_leaves(raw, tmp_path)
    if {kind for kind, _ in want + got} & PARSED_OTHERWISE:
        return True
    return got == want


def test_every_corpus_message_streams_as_the_parser_reads_it(tmp_path):
    corpus_path()
    messages = sorted(CORPUS.rglob("*.eml"))
    assert messages
    for path in messages:
        assert agrees(path.read_bytes(), tmp_path), path


def test_the_spamassassin_messages_stream_as_the_parser_reads_them(tmp_path, monkeypatch):
    mail = load_config().paths.state_dir / "demo" / "mail"
    boxes = sorted(mail.glob("*.mbox"))
    if not boxes:
        pytest.skip(f"the demo corpus is not prepared ({mail}): `make test` prepares it")
    # Lines are cut at 61 bytes: base64 and quoted-printable are decoded across the cuts.
    monkeypatch.setattr(mime_stream, "LINE_LIMIT", 61)
    differ = []
    for box in boxes:
        for key, message in mailbox.mbox(box).items():
            raw = message.as_bytes()
            if not agrees(raw, tmp_path):
                differ.append(f"{box.name}:{key}")
            for spool in tmp_path.iterdir():
                for file in spool.iterdir():
                    file.unlink()
                spool.rmdir()
    # Three of them have base64 the parser gives up on and returns undecoded; this decodes it.
    assert differ == ["spam-1.mbox:259", "spam-1.mbox:306", "spam-1.mbox:312"], differ


HEAD = b"From: a@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"


@pytest.mark.parametrize("raw", [
    # base64 with text after its padding, which ends the data
    HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
    b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(b"hello there") + b"tracking-id-1234\r\n--b--\r\n",
    # base64 without its padding, and a stray '=' early in a quantum
    HEAD + b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
    b"\r\nQU=JD\r\nREVG\r\nR0g\r\n",
    # quoted-printable: soft breaks, trailing spaces, an '=' at the very end
    HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\nl=C3=\r\n=A9ger  \r\ntotal =3D 5=\r\n"
    b"--b--\r\n",
    # a multipart whose boundary never comes: its content is one leaf
    HEAD + b'Content-Type: multipart/alternative; boundary="never"\r\n\r\n<p>hi</p>\r\n',
    # nested multiparts, LF line breaks, no closing delimiter at all
    b'From: a@example.org\nContent-Type: multipart/mixed; boundary="o"\n\npre\n--o\n'
    b'Content-Type: multipart/alternative; boundary="i"\n\n--i\n\nplain\n--i\n'
    b"Content-Type: text/html\n\n<b>x</b>\n--i--\nbetween\n--o\n"
    b"Content-Type: text/csv\n\na,b\n1,2\n",
    # a single part, its final line break kept
    HEAD + b"Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n",
], ids=["base64-trailer", "base64-unpadded", "quoted-printable", "no-boundary", "nested-lf",
        "single-part"])
def test_crafted_messages_stream_as_the_parser_reads_them(tmp_path, monkeypatch, raw):
    assert streamed_leaves(raw, tmp_path) == parser_leaves(raw)
    monkeypatch.setattr(mime_stream, "LINE_LIMIT", 3)
    assert streamed_leaves(raw, tmp_path) == parser_leaves(raw)


def test_a_header_block_with_no_end_in_reach_cannot_be_followed(tmp_path):
    with pytest.raises(MimeStreamError):
        spool_message(io.BytesIO(b"Subject: x\r\n" * 100), tmp_path, 500)
