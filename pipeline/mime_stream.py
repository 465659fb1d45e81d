"""An RFC 822 message too large to hold, read as a stream: its MIME leaves (bodies, attachments,
attached messages) are decoded into files one at a time, so that no part of it is ever held
whole in memory.

The standard library's parser holds the whole message, and its parts twice over, so a message
larger than `ingest.max_attachment_bytes` goes through `spool_message` instead. It follows RFC
2046's boundaries line by line (lines are read at most LINE_LIMIT bytes at a time), decodes each
leaf's base64 or quoted-printable as it goes, and gives back each leaf's headers with the file
its content is in. As Python's parser does, the line break before a boundary belongs to the
boundary, and an attached message (message/rfc822) is a leaf of its own, kept as its bytes.
"""

from __future__ import annotations

import binascii
import email.message
import email.policy
import quopri
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import BinaryIO

LINE_LIMIT = 1 << 16
# RFC 2046 allows a boundary of 70 characters; this leaves room for transport padding.
DELIMITER_LIMIT = 1024
# A quoted-printable line is at most 76 characters; a longer one is decoded in pieces this long.
QP_LINE_LIMIT = 1 << 20
_LINE_BREAKS = (b"\r\n", b"\n")


class MimeStreamError(Exception):
    """The message's structure cannot be followed (a header block without an end in reach)."""


@dataclass(frozen=True)
class Leaf:
    headers: email.message.Message
    path: Path
    size: int


def spool_message(stream: BinaryIO, directory: Path,
                  max_header_bytes: int) -> tuple[email.message.Message, list[Leaf]]:
    """The message's headers, and its leaves in order, each decoded into a file under
    `directory` (a message of one part is its own leaf)."""
    lines = _Lines(stream)
    leaves: list[Leaf] = []
    headers = _read_headers(lines, max_header_bytes)
    _walk(lines, headers, [], directory, leaves, max_header_bytes)
    return headers, leaves


class _Lines:
    """The stream's lines, a line longer than LINE_LIMIT in pieces. A piece that starts a line
    with '--' is read on to the line's end (up to DELIMITER_LIMIT): it may be a delimiter, and a
    delimiter is a whole line."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._at_line_start = True
        self.starts_line = True   # of the piece `next` returned last

    def next(self) -> bytes | None:
        piece = self._stream.readline(LINE_LIMIT)
        if self._at_line_start and piece.startswith(b"--") and not piece.endswith(b"\n"):
            piece += self._stream.readline(DELIMITER_LIMIT)
        self.starts_line, self._at_line_start = self._at_line_start, piece.endswith(b"\n")
        return piece or None

    def delimiter(self, piece: bytes | None, boundaries: list[bytes]) -> tuple[bytes, bool] | None:
        if piece is None or not self.starts_line:
            return None
        return _delimiter(piece, boundaries)

    def header_line(self, limit: int) -> bytes | None:
        piece = self._stream.readline(max(limit, 1))
        self.starts_line, self._at_line_start = True, piece.endswith(b"\n")
        return piece or None


def _read_headers(lines: _Lines, max_header_bytes: int) -> email.message.Message:
    block, total = [], 0
    while True:
        line = lines.header_line(max_header_bytes - total + 1)
        if line is None or line in _LINE_BREAKS:
            break
        total += len(line)
        if total > max_header_bytes:
            raise MimeStreamError(f"a header block longer than {max_header_bytes} bytes")
        block.append(line)
    return BytesHeaderParser(policy=email.policy.compat32).parsebytes(b"".join(block))


def _boundary_of(headers: email.message.Message) -> bytes | None:
    if headers.get_content_maintype() != "multipart":
        return None
    boundary = headers.get_boundary()
    return boundary.encode("utf-8", "surrogateescape") if boundary else None


def _delimiter(line: bytes, boundaries: list[bytes]) -> tuple[bytes, bool] | None:
    """(boundary, closes) when the line is a delimiter of one of the enclosing multiparts."""
    if not line.startswith(b"--"):
        return None
    stripped = line.rstrip(b" \t\r\n")
    for boundary in reversed(boundaries):   # the innermost first
        if stripped == b"--" + boundary:
            return boundary, False
        if stripped == b"--" + boundary + b"--":
            return boundary, True
    return None


def _walk(lines: _Lines, headers: email.message.Message, boundaries: list[bytes],
          directory: Path, leaves: list[Leaf], max_header_bytes: int) -> bytes | None:
    """Read one entity; returns the delimiter line that ended it (None at the end of input)."""
    boundary = _boundary_of(headers)
    if boundary is None or boundary in boundaries:
        return _spool_leaf(lines, headers, boundaries, directory, leaves,
                           keep_at_end=not boundaries)
    inner = boundaries + [boundary]
    # The preamble, kept only if no delimiter of this multipart follows: Python's parser then
    # gives the multipart's content as a leaf of its own, and so does this.
    count = len(leaves)
    line = _spool_leaf(lines, headers, inner, directory, leaves, keep_at_end=not boundaries)
    found = _delimiter(line, inner) if line is not None else None
    if found is not None and found[0] == boundary:
        leaves.pop(count).path.unlink()
    while line is not None:
        found = _delimiter(line, inner)
        if found is None or found[0] != boundary:
            return line                                # an enclosing multipart's delimiter
        if found[1]:
            return _skip_to_delimiter(lines, boundaries) if boundaries else None   # epilogue
        part = _read_headers(lines, max_header_bytes)
        line = _walk(lines, part, inner, directory, leaves, max_header_bytes)
    return None


def _skip_to_delimiter(lines: _Lines, boundaries: list[bytes]) -> bytes | None:
    while True:
        line = lines.next()
        if line is None or lines.delimiter(line, boundaries) is not None:
            return line


def _spool_leaf(lines: _Lines, headers: email.message.Message, boundaries: list[bytes],
                directory: Path, leaves: list[Leaf], keep_at_end: bool) -> bytes | None:
    """Decode content into a file up to a delimiter of `boundaries`; returns that delimiter. The
    line break before a delimiter belongs to it; at the end of the input, the last line break
    is kept when `keep_at_end` (content that is the whole message's, as the parser keeps it)."""
    encoding = str(headers.get("Content-Transfer-Encoding", "")).strip().lower()
    if headers.get_content_type() == "message/rfc822":
        encoding = ""   # an attached message is kept as its bytes, as the parser keeps it
    decoder = _Base64() if encoding == "base64" else \
        _QuotedPrintable() if encoding == "quoted-printable" else _Verbatim()
    path = directory / f"leaf-{len(leaves) + 1:06d}"
    size = 0
    ending = None
    with path.open("wb") as out:
        while True:
            line = lines.next()
            if line is None or lines.delimiter(line, boundaries) is not None:
                ending = line
                break
            size += out.write(decoder.line(line))
        size += out.write(decoder.finish(keep_line_break=ending is None and keep_at_end))
    leaves.append(Leaf(headers, path, size))
    return ending


class _Verbatim:
    """Content as it is, less the line break that belongs to the next boundary: a line's break
    is held until the next piece shows it is not the last (a '\\r' at the end of a piece too,
    in case its '\\n' is the next piece)."""

    def __init__(self) -> None:
        self._pending = b""

    def line(self, piece: bytes) -> bytes:
        body, self._pending = _split_ending(self._pending + piece)
        return body

    def finish(self, keep_line_break: bool) -> bytes:
        return self._pending if keep_line_break else b""


class _QuotedPrintable:
    """quoted-printable decoded a line at a time by `quopri`, which carries nothing from one line
    to the next but a soft line break. Pieces are joined into their line first (up to
    QP_LINE_LIMIT), and each line is decoded when the next one comes, so that the last one
    before a delimiter is decoded without its line break, as the standard library's parser
    decodes it."""

    def __init__(self) -> None:
        self._held: bytes | None = None
        self._partial = b""

    def line(self, piece: bytes) -> bytes:
        self._partial += piece
        if not piece.endswith(b"\n") and len(self._partial) < QP_LINE_LIMIT:
            return b""
        held, self._held, self._partial = self._held, self._partial, b""
        return quopri.decodestring(held) if held is not None else b""

    def finish(self, keep_line_break: bool) -> bytes:
        out = self.line(b"") if self._partial else b""
        if self._held is None:
            return out
        last = self._held if keep_line_break else _split_ending(self._held)[0]
        return out + quopri.decodestring(last)


class _Base64:
    """base64 decoded a quantum (four characters) at a time, as binascii's lenient decoder
    decodes it in one go: what is not base64 is skipped, and so is an '=' unless it completes
    the padding of a quantum's second half, which ends the data."""

    def __init__(self) -> None:
        self._carry = b""   # fewer than four characters, starting a quantum
        self._pads = 0      # '=' seen since the last character
        self._done = False

    def line(self, piece: bytes) -> bytes:
        if self._done:
            return b""
        data = self._carry + piece.translate(None, _NOT_BASE64)
        if b"=" in data:
            data = self._unpad(data)
        elif len(data) > len(self._carry):
            self._pads = 0
        if self._done:
            whole, self._carry = len(data) - len(data) % 4, b""
            return _a2b(data[:whole]) + _a2b_partial(data[whole:])
        whole = len(data) - len(data) % 4
        self._carry = data[whole:]
        return _a2b(data[:whole])

    def _unpad(self, data: bytes) -> bytes:
        """The characters that count, up to the padding that ends the data if it comes."""
        first = data.index(b"=")
        kept = bytearray(data[:first])
        for byte in data[first:]:
            if byte != 0x3D:   # '='
                self._pads = 0
                kept.append(byte)
                continue
            self._pads += 1
            position = len(kept) % 4
            if position >= 2 and position + self._pads >= 4:
                self._done = True
                break
        return bytes(kept)

    def finish(self, keep_line_break: bool) -> bytes:
        # Two or three characters left make one or two bytes; one alone makes none.
        carry, self._carry = self._carry, b""
        return b"" if self._done else _a2b_partial(carry)


def _a2b(data: bytes) -> bytes:
    return binascii.a2b_base64(data) if data else b""


def _a2b_partial(data: bytes) -> bytes:
    return binascii.a2b_base64(data + b"=" * (4 - len(data))) if len(data) >= 2 else b""


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_NOT_BASE64 = bytes(byte for byte in range(256) if byte not in _BASE64_ALPHABET)


def _split_ending(line: bytes) -> tuple[bytes, bytes]:
    """(the line, its break): '\\r\\n', '\\n', or a '\\r' that may be the start of one."""
    for ending in (*_LINE_BREAKS, b"\r"):
        if line.endswith(ending):
            return line[:-len(ending)], ending
    return line, b""
