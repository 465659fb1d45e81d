"""Decoding that never gives up: charsets, RFC 2047 headers, HTML and dates.

Every fallback is reported as a warning string, so the item records what was guessed.
"""

from __future__ import annotations

import codecs
import email.header
import email.utils
import html
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser

# Names seen in the wild that Python does not know, mapped to the codec they mean.
CHARSET_ALIASES = {
    "chinesebig5": "big5",
    "big5-hkscs": "big5hkscs",
    "x-gbk": "gbk",
    "gb2312_charset": "gb2312",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "ks_c_5601-1987": "euc_kr",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "utf8": "utf-8",
    "x-unknown": "",
    "unknown-8bit": "",
    "default_charset": "",
    "default": "",
    "x-user-defined": "",
}

FALLBACK_CHARSET = "cp1252"
SURROGATE_ESCAPE = re.compile("[\udc80-\udcff]")
WHITESPACE_RUN = re.compile(r"\s+")


def _clean_charset(charset: str | None) -> str:
    return (charset or "").strip().strip("\"'").lower()


def decode_bytes(data: bytes, charset: str | None, warnings: list[str]) -> str:
    """Decode with the declared charset; fall back to UTF-8, then cp1252, recording why."""
    declared = _clean_charset(charset)
    name = CHARSET_ALIASES.get(declared, declared)
    if name and name != declared:
        warnings.append(f"charset alias: {declared} read as {name}")
    if name:
        try:
            codecs.lookup(name)
        except LookupError:
            warnings.append(f"unknown charset: {_clean_charset(charset)}")
            name = ""
    elif charset and _clean_charset(charset) not in ("", "us-ascii"):
        warnings.append(f"unknown charset: {_clean_charset(charset)}")
    if name:
        try:
            return data.decode(name)
        except UnicodeDecodeError:
            warnings.append(f"invalid bytes for charset: {name}")
        except (LookupError, ValueError):
            warnings.append(f"unusable charset: {name}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if name != FALLBACK_CHARSET:
        decoded = data.decode(FALLBACK_CHARSET, errors="replace")
    else:
        decoded = data.decode("latin-1")
    if not name:
        warnings.append(f"guessed charset: {FALLBACK_CHARSET}")
    return decoded


def _unescape_surrogates(text: str, warnings: list[str]) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogates; turn them back into text."""
    if text.isascii() or not SURROGATE_ESCAPE.search(text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    warnings.append("raw 8-bit header")
    return decode_bytes(raw, None, []) if raw else ""


def _raw_header_text(header: email.header.Header, warnings: list[str]) -> str:
    """compat32 wraps headers holding raw 8-bit bytes in a Header; recover their text."""
    pieces = []
    for chunk, charset in email.header.decode_header(header):
        if isinstance(chunk, str):
            pieces.append(chunk)
        elif charset in (None, "unknown-8bit"):
            warnings.append("raw 8-bit header")
            pieces.append(decode_bytes(chunk, None, []))
        else:
            pieces.append(decode_bytes(chunk, charset, warnings))
    return "".join(pieces)


def decode_header_value(value: object, warnings: list[str]) -> str:
    """Decode an RFC 2047 header in any charset, best effort, to one line of text."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        text = _raw_header_text(value, warnings)
    else:
        text = _unescape_surrogates(str(value), warnings)
    if "=?" not in text:
        # No encoded-word: decode_header would hand the text back unchanged, only slower.
        return _collapse_whitespace(text)
    try:
        parts = email.header.decode_header(text)
    except (email.errors.HeaderParseError, ValueError, LookupError):
        warnings.append("undecodable encoded-word")
        return _collapse_whitespace(text)
    pieces = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            pieces.append(decode_bytes(chunk, charset or "ascii", warnings))
        else:
            pieces.append(chunk)
    return _collapse_whitespace("".join(pieces))


def _collapse_whitespace(text: str) -> str:
    return WHITESPACE_RUN.sub(" ", text).strip()


# The plain forms nearly every address header holds: `Name <local@domain>`, `"Last, First"
# <local@domain>`, `<local@domain>` and `local@domain`, comma-separated. The standard library's
# parser reads them a character at a time: a fifth of the mbox reader's time under a profiler.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*"
_PLAIN_ADDRESS = re.compile(
    rf'(?:(?:"(?P<quoted>[^"\\\r\n]*)"|(?P<phrase>{_ATOM}(?: {_ATOM})*)) ?)?'
    rf"<(?P<routed>{_ADDR_SPEC})>|(?P<bare>{_ADDR_SPEC})")
_PLAIN_SEPARATOR = re.compile(r" ?, ?")


def plain_address_pairs(value: str) -> list[tuple[str, str]] | None:
    """(name, address) pairs of a header value made only of the plain forms, as
    `email.utils.getaddresses` gives them; None for anything else (comments, groups, escapes,
    dotted or non-ASCII names), which is left to it."""
    pairs: list[tuple[str, str]] = []
    end = 0
    for match in _PLAIN_ADDRESS.finditer(value):
        between = value[end:match.start()]
        joined = _PLAIN_SEPARATOR.fullmatch(between) if pairs else between == ""
        if not joined:
            return None
        pairs.append((match["quoted"] if match["quoted"] is not None else match["phrase"] or "",
                      match["routed"] or match["bare"]))
        end = match.end()
    return pairs if pairs and end == len(value) else None


def _address_pairs(decoded: list[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for value in decoded:
        plain = plain_address_pairs(value)
        if plain is None:
            return email.utils.getaddresses(decoded)
        pairs.extend(plain)
    return pairs


def parse_addresses(values: list[str], warnings: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs from decoded header values. Names are RFC 2047-decoded."""
    decoded = [decode_header_value(v, warnings) for v in values if v is not None]
    pairs = []
    for name, address in _address_pairs(decoded):
        name, address = name.strip(), address.strip()
        if name or address:
            pairs.append((name, address))
    return pairs


def format_address(name: str, address: str) -> str:
    if name and address and name != address:
        return f"{name} <{address}>"
    return address or name


@dataclass(frozen=True)
class ParsedDate:
    utc: datetime | None
    offset_minutes: int | None
    status: str


def parse_date(value: str | None) -> ParsedDate:
    """The Date header in UTC with its original offset. A bad date stays unknown, never invented."""
    if value is None or not value.strip():
        return ParsedDate(None, None, "missing")
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return ParsedDate(None, None, "unparseable")
    if parsed is None:
        return ParsedDate(None, None, "unparseable")
    if parsed.tzinfo is None:
        # RFC 5322's -0000 means "UTC, but the offset is unknown".
        return ParsedDate(parsed.replace(tzinfo=timezone.utc), None, "ok")
    offset = parsed.utcoffset()
    offset_minutes = int(offset.total_seconds() // 60) if offset is not None else None
    try:
        utc = parsed.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return ParsedDate(None, None, "unparseable")
    if not 1970 <= utc.year <= 2200:
        return ParsedDate(None, offset_minutes, "unparseable")
    return ParsedDate(utc, offset_minutes, "ok")


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "head", "title"}
    _BREAKS = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table",
               "blockquote", "pre", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Fast local HTML-to-text for bodies, so Tika is only asked for binary formats."""
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
        text = "".join(extractor.parts)
    except (AssertionError, ValueError):
        text = re.sub(r"<[^>]+>", " ", markup)
        text = html.unescape(text)
    lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
