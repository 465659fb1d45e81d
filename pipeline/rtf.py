"""RTF message bodies: the HTML inside `\\fromhtml1` RTF, and the text of other RTF.

Outlook often stores only a compressed RTF body, and most such bodies are HTML encapsulated in
RTF (MS-OXRTFEX). `encapsulated_html` takes the HTML back out, for html_to_text like any HTML
body: that is faster and more faithful than reading the RTF rendering of it. Other RTF goes to
striprtf (`rtf_to_text`), after the header tables and pictures it would otherwise walk one
character at a time are cut out.
"""

from __future__ import annotations

import codecs
import re

# Windows code pages whose Python codec is not simply "cp<number>".
CODEPAGE_CODECS = {65001: "utf-8", 1200: "utf-16-le", 1201: "utf-16-be", 20127: "ascii",
                   20866: "koi8_r", 21866: "koi8_u", 50220: "iso2022_jp", 50221: "iso2022_jp",
                   50222: "iso2022_jp", 50225: "iso2022_kr", 51932: "euc_jp", 51936: "gb2312",
                   51949: "euc_kr", 52936: "hz", 54936: "gb18030", 936: "gbk", 950: "big5",
                   **{28590 + n: f"iso-8859-{n}" for n in range(1, 16)}}

# A font's \fcharsetN (Windows character set) -> codec; 1 (default) and 2 (symbol) mean the
# document's code page.
FONT_CHARSET_CODECS = {0: "cp1252", 77: "mac_roman", 128: "cp932", 129: "cp949", 130: "johab",
                       134: "gbk", 136: "big5", 161: "cp1253", 162: "cp1254", 163: "cp1258",
                       177: "cp1255", 178: "cp1256", 186: "cp1257", 204: "cp1251", 222: "cp874",
                       238: "cp1250", 254: "cp437", 255: "cp850"}

DEFAULT_CODEC = "cp1252"
HEADER_BYTES = 2048   # \ansicpg and \fromhtml1 sit in the header, before the font table

# Control word, \'hh, control symbol, brace, text. Line breaks match nothing: RTF ignores them.
TOKEN = re.compile(rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])"
                   rb"|([^\\{}\r\n]+)", re.DOTALL)
ANSI_CODEPAGE = re.compile(rb"\\ansicpg(\d+)")
FROM_HTML = re.compile(rb"\\fromhtml1(?![0-9])")

# Control words and symbols that stand for text in encapsulated HTML.
TEXT_CONTROLS = {b"par": "\r\n", b"line": "\r\n", b"tab": "\t", b"lquote": "\u2018",
                 b"rquote": "\u2019", b"ldblquote": "\u201c", b"rdblquote": "\u201d",
                 b"bullet": "\u2022", b"endash": "\u2013", b"emdash": "\u2014",
                 b"emspace": "\u2003", b"enspace": "\u2002", b"\\": "\\", b"{": "{", b"}": "}",
                 b"~": "\xa0", b"_": "\u2011", b"-": "\xad", b"\r": "\r\n", b"\n": "\r\n"}
# Destinations that hold no text of the document even without \*.
TEXTLESS_DESTINATIONS = {b"fonttbl", b"colortbl", b"stylesheet", b"info", b"pict", b"pntext",
                         b"listtext", b"object", b"themedata", b"colorschememapping",
                         b"datastore", b"latentstyles"}

# The pre-pass before striprtf: groups that striprtf reads as ignorable from their first
# control word, so cutting them out changes nothing it writes. Kept whole (group 1): the font
# table, from which striprtf takes each font's code page, and fields, whose hyperlinks it finds
# by a pattern over the raw text. A brace after a backslash may be an escaped one, which starts
# no group.
TEXTLESS_GROUP_START = re.compile(
    rb"(?<!\\)\{(?:\\(fonttbl|field)(?![a-zA-Z])|\\\*\\[a-zA-Z]"
    rb"|\\(?:colortbl|stylesheet|info|pict|themedata|colorschememapping|datastore"
    rb"|latentstyles)(?![a-zA-Z]))")
GROUP_TOKEN = re.compile(rb"\\bin(\d{1,10}) ?|\\.|[{}]", re.DOTALL)


def codec_for_codepage(codepage: int | None) -> str | None:
    if not codepage:
        return None
    return CODEPAGE_CODECS.get(codepage, f"cp{codepage}")


def known_codec(name: str | None, default: str) -> str:
    """`name` if Python has such a codec, else `default`: an RTF may name any code page."""
    if name:
        try:
            return codecs.lookup(name).name
        except LookupError:
            pass
    return default


def document_codec(rtf: bytes) -> str:
    """The code page of the header's \\ansicpg, which 8-bit text uses unless a font says
    otherwise."""
    match = ANSI_CODEPAGE.search(rtf[:HEADER_BYTES])
    return known_codec(codec_for_codepage(int(match.group(1))) if match else None,
                       DEFAULT_CODEC)


def is_encapsulated_html(rtf: bytes) -> bool:
    """\\fromhtml1 in the header, before the first group opens (MS-OXRTFEX 2.2.3.1)."""
    first_group = rtf.find(b"{", 1, HEADER_BYTES)
    return FROM_HTML.search(rtf, 0, first_group if first_group > 0 else HEADER_BYTES) is not None


def encapsulated_html(rtf: bytes) -> str | None:
    """The HTML encapsulated in an RTF body, or None when it holds none. A truncated body gives
    the HTML up to where it stops."""
    if not is_encapsulated_html(rtf):
        return None
    return _Deencapsulator(rtf).html()


def rtf_to_text(rtf: bytes) -> str:
    """The text of an RTF body, by striprtf."""
    from striprtf.striprtf import rtf_to_text as strip

    return strip(drop_textless_groups(rtf).decode("latin-1"), encoding=document_codec(rtf),
                 errors="replace")


def drop_textless_groups(rtf: bytes) -> bytes:
    """The RTF with each group that cannot hold text replaced by an empty group ("{}"), which
    still ends a \\uN skip and a run of \\'hh bytes as the cut group did. \\binN data is
    skipped unread, so a brace in it closes nothing."""
    parts, position = [], 0
    for start in TEXTLESS_GROUP_START.finditer(rtf):
        if start.start() < position:
            continue   # inside a group already cut or kept
        end = _group_end(rtf, start.start())
        kept = start.group(1) is not None
        parts.append(rtf[position:end] if kept else rtf[position:start.start()] + b"{}")
        position = end
    return b"".join(parts + [rtf[position:]]) if parts else rtf


def _group_end(rtf: bytes, start: int) -> int:
    """Where the group opening at `start` ends (after its closing brace), or the end of the
    data if it never does."""
    depth, position = 0, start
    while True:
        token = GROUP_TOKEN.search(rtf, position)
        if token is None:
            return len(rtf)
        position = token.end()
        if token.group(1) is not None:
            position += int(token.group(1))
        elif token.group() == b"{":
            depth += 1
        elif token.group() == b"}":
            depth -= 1
            if depth == 0:
                return position


class _Deencapsulator:
    """MS-OXRTFEX 2.1.3: HTML is what \\*\\htmltag groups hold and the text outside them,
    leaving out whatever \\htmlrtf marks as RTF-only and the destinations that hold no text.

    \\'hh bytes are decoded in the selected font's code page (the document's in an htmltag
    group, where the font is the RTF rendering's, not the HTML's); consecutive bytes are decoded
    together, so a double-byte character split over two escapes reads whole.
    """

    def __init__(self, rtf: bytes) -> None:
        self.rtf = rtf
        self.default_codec = document_codec(rtf)
        self.font_codecs: dict[bytes, str] = {}
        self.default_font: bytes | None = None
        self.parts: list[str] = []
        self.pending = bytearray()      # undecoded bytes, all in pending_codec
        self.pending_codec = self.default_codec
        # Group state, saved at { and restored at }: ignored (no output), in an htmltag group,
        # \htmlrtf on, selected font, \uc count, in the font table.
        self.ignored = self.in_htmltag = self.htmlrtf = self.in_fonttbl = False
        self.font: bytes | None = None
        self.unicode_skip = 1
        self.stack: list[tuple] = []
        self.skip = 0                    # characters still to skip after \uN
        self.group_start = False         # the previous token opened a group
        self.starred = False             # ... and this one was \*
        self.defined_font: bytes | None = None

    def html(self) -> str:
        rtf, position = self.rtf, 0
        while position < len(rtf):
            for token in TOKEN.finditer(rtf, position):
                kind = token.lastindex
                if kind == 5:
                    if not self._brace(token.group(5)):
                        return self._output()
                elif kind <= 2:
                    skip_to = self._control_word(token.group(1), token.group(2))
                    if skip_to:   # \binN: N bytes of data, which the tokens must not enter
                        position = token.end() + skip_to
                        break
                elif kind == 6:
                    self._text(token.group(6))
                elif kind == 3:
                    self._hex(token.group(3))
                else:
                    self._control_symbol(token.group(4))
            else:
                break
        return self._output()

    def _output(self) -> str:
        self._flush()
        return "".join(self.parts)

    def _brace(self, brace: bytes) -> bool:
        """False when the document's outer group has closed."""
        self.skip = 0
        if brace == b"{":
            self.stack.append((self.ignored, self.in_htmltag, self.htmlrtf, self.in_fonttbl,
                               self.font, self.unicode_skip))
            self.group_start, self.starred = True, False
            return True
        self.group_start = self.starred = False
        if len(self.stack) <= 1:
            return False
        (self.ignored, self.in_htmltag, self.htmlrtf, self.in_fonttbl, self.font,
         self.unicode_skip) = self.stack.pop()
        return True

    def _control_word(self, word: bytes, argument: bytes | None) -> int:
        """How many bytes of binary data follow (\\binN), else 0."""
        if self.group_start:
            self._destination(word)
        if word == b"bin":
            return int(argument or 0)
        if self.skip:
            self.skip -= 1
            return 0
        if word == b"htmlrtf":
            self.htmlrtf = argument != b"0"
        elif word == b"u" and argument is not None:
            self._unicode(int(argument))
        elif word == b"uc":
            self.unicode_skip = int(argument or 0)
        elif word == b"f":
            self._font(argument)
        elif word == b"deff":
            self.default_font = argument
        elif word in (b"fcharset", b"cpg") and self.in_fonttbl:
            self._font_codec(word, int(argument or 0))
        elif word in TEXT_CONTROLS:
            self._emit(TEXT_CONTROLS[word])
        return 0

    def _destination(self, word: bytes) -> None:
        """The first control word of a group (after \\* if any) says what the group holds."""
        self.group_start = False
        if self.starred and word == b"htmltag":
            self.in_htmltag = True
        elif self.starred or word in TEXTLESS_DESTINATIONS:
            self.ignored = True
            self.in_fonttbl = word == b"fonttbl"

    def _control_symbol(self, symbol: bytes) -> None:
        if symbol == b"*" and self.group_start:
            self.starred = True
            return
        self.group_start = False
        if self.skip:
            self.skip -= 1
        elif symbol in TEXT_CONTROLS:
            self._emit(TEXT_CONTROLS[symbol])

    def _font(self, argument: bytes | None) -> None:
        if self.in_fonttbl:
            self.defined_font = argument
        else:
            self.font = argument

    def _font_codec(self, word: bytes, number: int) -> None:
        codec = (FONT_CHARSET_CODECS.get(number) if word == b"fcharset"
                 else codec_for_codepage(number))
        if self.defined_font is not None and codec:
            self.font_codecs[self.defined_font] = known_codec(codec, self.default_codec)

    def _hex(self, hex_byte: bytes) -> None:
        self.group_start = False
        if self.skip:
            self.skip -= 1
        elif self._writing():
            self._emit_bytes(bytes.fromhex(hex_byte.decode("ascii")), self._byte_codec())

    def _text(self, text: bytes) -> None:
        self.group_start = False
        if self.skip:
            skipped = min(self.skip, len(text))
            self.skip -= skipped
            text = text[skipped:]
        if text and self._writing():
            self._emit_bytes(text, self._byte_codec())

    def _unicode(self, number: int) -> None:
        # UTF-16 code units, negative above 32767; a surrogate pair decodes whole with the
        # bytes that follow it.
        self.skip = self.unicode_skip
        if self._writing():
            self._emit_bytes((number & 0xFFFF).to_bytes(2, "little"), "utf-16-le")

    def _writing(self) -> bool:
        return not (self.htmlrtf or self.ignored)

    def _byte_codec(self) -> str:
        if self.in_htmltag:
            return self.default_codec
        font = self.font if self.font is not None else self.default_font
        return self.font_codecs.get(font, self.default_codec)

    def _emit(self, text: str) -> None:
        if self._writing():
            self._flush()
            self.parts.append(text)

    def _emit_bytes(self, data: bytes, codec: str) -> None:
        if codec != self.pending_codec:
            self._flush()
            self.pending_codec = codec
        self.pending += data

    def _flush(self) -> None:
        if self.pending:
            self.parts.append(self.pending.decode(self.pending_codec, errors="replace"))
            self.pending.clear()
