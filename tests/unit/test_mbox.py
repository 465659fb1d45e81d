import io

from pipeline.demo import mbox_entry
from pipeline.sources.mbox import iter_messages

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
