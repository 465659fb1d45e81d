import dataclasses
import io
from pathlib import Path

import pytest

from pipeline.demo import mbox_entry
from pipeline.mail import ParseContext
from pipeline.records import WorkUnit
from pipeline.sources import mbox
from pipeline.sources.mbox import MboxReader, iter_messages

MESSAGES = [
    b"From: a@example.org\nSubject: one\n\nFirst body\nFrom the start of a line\n",
    b"From: b@example.org\nSubject: two\n\n>From quoted already\n\n",
    b"From: c@example.org\r\nSubject: three\r\n\r\nWindows line ends\r\n",
    b"From: d@example.org\nSubject: four\n\nlast one, no newline at the end",
]


def build_mbox() -> bytes:
    return b"".join(mbox_entry(m) for m in MESSAGES)


def expected(message: bytes) -> bytes:
    return message if message.endswith(b"\n") else message + b"\n"


def assert_cuts_give(data: bytes, whole: list, step: int) -> None:
    """A whole read, and the file cut in two at every `step`-th byte, give `whole`."""
    assert list(iter_messages(io.BytesIO(data), 0, None)) == whole
    for cut in range(1, len(data), step):
        assert (list(iter_messages(io.BytesIO(data), 0, cut))
                + list(iter_messages(io.BytesIO(data), cut, None))) == whole, f"cut at {cut}"


def test_whole_file_read_gives_back_every_message_unquoted():
    data = build_mbox()
    found = [raw for _, raw in iter_messages(io.BytesIO(data), 0, None)]
    assert found == [expected(m) for m in MESSAGES]


def test_any_split_point_reads_each_message_exactly_once():
    data = build_mbox()
    whole = list(iter_messages(io.BytesIO(data), 0, None))
    for cut in range(1, len(data)):
        first = list(iter_messages(io.BytesIO(data), 0, cut))
        second = list(iter_messages(io.BytesIO(data), cut, None))
        assert first + second == whole, f"split at byte {cut}"


def test_three_way_splits_agree_with_a_whole_read():
    data = build_mbox()
    whole = list(iter_messages(io.BytesIO(data), 0, None))
    for a in range(1, len(data), 7):
        for b in range(a + 1, len(data), 11):
            parts = (list(iter_messages(io.BytesIO(data), 0, a))
                     + list(iter_messages(io.BytesIO(data), a, b))
                     + list(iter_messages(io.BytesIO(data), b, None)))
            assert parts == whole


def test_from_line_inside_a_body_without_blank_line_before_is_not_a_separator():
    data = (b"From x Thu Jan  1 00:00:00 1970\nSubject: s\n\nline\nFrom here on it is body\n\n"
            b"From y Thu Jan  1 00:00:00 1970\nSubject: t\n\nbody\n")
    found = [raw for _, raw in iter_messages(io.BytesIO(data), 0, None)]
    assert len(found) == 2
    assert b"From here on it is body" in found[0]


@pytest.mark.parametrize("limit", [1, 2, 5, 64])
def test_lines_read_in_pieces_give_the_same_messages(monkeypatch, limit):
    data = build_mbox() + mbox_entry(b"Subject: long\n\n" + b"x" * 300 + b"\n\n\n")
    whole = list(iter_messages(io.BytesIO(data), 0, None))
    monkeypatch.setattr(mbox, "LINE_LIMIT", limit)
    assert_cuts_give(data, whole, step=13)


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64])
def test_separators_straddling_blocks_give_the_same_messages(monkeypatch, block):
    data = (build_mbox() + b"\r\n" + mbox_entry(b"Subject: crlf\r\n\r\n>>From x\r\n\r\n")
            + mbox_entry(b"Subject: long\n\n" + b"y" * 300 + b"\n\n\n"))
    whole = list(iter_messages(io.BytesIO(data), 0, None))
    monkeypatch.setattr(mbox, "BLOCK_BYTES", block)
    assert_cuts_give(data, whole, step=5)
    spilled = [(offset, message.read_bytes() if isinstance(message, Path) else message)
               for offset, message in iter_messages(io.BytesIO(data), 0, None, spill_over=40)]
    assert spilled == whole


def test_a_message_over_the_spill_size_comes_as_a_file_removed_afterwards():
    data = build_mbox()
    whole = [raw for _, raw in iter_messages(io.BytesIO(data), 0, None)]
    spilled, files = [], []
    for _, message in iter_messages(io.BytesIO(data), 0, None, spill_over=60):
        if isinstance(message, Path):
            files.append(message)
            spilled.append(message.read_bytes())
        else:
            spilled.append(message)
    assert spilled == whole
    assert len(whole) > len(files) == sum(len(raw) > 60 for raw in whole) >= 2
    assert not any(file.exists() for file in files)


def test_an_mbox_message_over_the_cap_is_read_from_a_stream(context, tmp_path):
    message = (b"From: a@example.org\nSubject: big\nMIME-Version: 1.0\n"
               b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n\nSee attached.\n'
               b"--b\nContent-Type: text/plain; name=log.txt\n\n" + b"log line\n" * 300
               + b"--b--\n")
    path = tmp_path / "box.mbox"
    path.write_bytes(mbox_entry(MESSAGES[0]) + mbox_entry(message))
    unit = WorkUnit("unit", "Jane Smith", "jane-smith", str(path), "mbox", 0, None)

    def read(cap):
        capped = ParseContext(context.extractor, dataclasses.replace(
            context.ingest, max_attachment_bytes=cap))
        return list(MboxReader().read(unit, capped))

    streamed, parsed = read(1000), read(1 << 20)
    assert [(i.id, i.type, i.body, i.sha256) for i in streamed] == [
        (i.id, i.type, i.body, i.sha256) for i in parsed]
    assert [i.type for i in streamed] == ["email", "email", "attachment"]
    assert any(w.startswith("read as a stream") for w in streamed[1].decode_warnings)
    assert streamed[2].body == ("log line\n" * 300).rstrip("\n")
