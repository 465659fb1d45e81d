"""RTF bodies: HTML de-encapsulated from \\fromhtml1 RTF, and the pre-pass before striprtf.

The corpus tests compare every RTF body in the shared corpus (PSTs, through pypff and pffexport,
and MSGs, through extract-msg) with what striprtf alone made of it, which is what Trawl used to
index.
"""

from __future__ import annotations

import difflib
import html
import re
import shutil
import subprocess

import pytest
from striprtf.striprtf import rtf_to_text as striprtf

from pipeline import rtf
from pipeline.decoding import html_to_text
from pipeline.sources import pst

from helpers import CORPUS

# striprtf writes a HYPERLINK field as its text then ("target"); HTML keeps the target in href.
STRIPRTF_LINK_TARGET = re.compile(r'\("[^"\s]*"\)')
ALT_TEXT = re.compile(r'\balt="([^"]*)"', re.IGNORECASE)


def striprtf_alone(body: bytes) -> str:
    """What Trawl indexed before: striprtf on the whole RTF, in the header's code page."""
    return striprtf(body.decode("latin-1"), encoding=rtf.document_codec(body), errors="replace")


def html_document(*body: bytes, codepage: int = 1252,
                  fonts: bytes = rb"{\f0\fswiss Arial;}") -> bytes:
    """An RTF body as Outlook writes one for HTML: header, font and colour tables, then `body`."""
    return (rb"{\rtf1\ansi\ansicpg%d\fromhtml1 \deff0{\fonttbl" % codepage + fonts
            + rb"}{\colortbl\red0\green0\blue0;}\uc1\pard\plain\f0 {\*\htmltag64}"
            + b"".join(body) + b"}")


# --- the corpus ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus_rtf_bodies(tmp_path_factory) -> dict[str, bytes]:
    """Every RTF body in the corpus: top-level PST messages by pypff, embedded and recovered
    ones by pffexport (when installed), and MSG files by extract-msg."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not available: {CORPUS} is missing")
    bodies: dict[str, bytes] = {}
    for path in sorted(CORPUS.glob("*/*.pst")):
        opened = pst.open_pst(str(path))
        for span in pst.walk_folders(opened):
            for index in range(span.count):
                # Only a pypff.message has an RTF body; distribution lists and others do not.
                body = getattr(span.folder.get_sub_message(index), "rtf_body", None)
                if body:
                    bodies[f"{path.name} {span.path} {index + 1}"] = body
        opened.close()
        if shutil.which("pffexport"):
            target = tmp_path_factory.mktemp("pffexport") / "export"
            subprocess.run(["pffexport", "-q", "-f", "all", "-m", "all", "-t", str(target),
                            str(path)], capture_output=True, timeout=300, check=False)
            for file in sorted(target.parent.rglob("Message.rtf")):
                bodies[f"{path.name} pffexport {file.relative_to(target.parent)}"] = (
                    file.read_bytes())
    import extract_msg

    for path in sorted(CORPUS.glob("**/*.msg")):
        try:
            message = extract_msg.openMsg(str(path))
        except Exception:  # aleph/fnf.msg is not an OLE file: the MSG tests cover it
            continue
        if message.rtfBody:
            bodies[f"{path.name}"] = message.rtfBody
        message.close()
    return bodies


def test_the_corpus_has_rtf_bodies_of_both_kinds(corpus_rtf_bodies):
    encapsulated = [body for body in corpus_rtf_bodies.values() if rtf.is_encapsulated_html(body)]
    assert len(encapsulated) >= 10
    assert len(corpus_rtf_bodies) - len(encapsulated) >= 5


def test_prepass_leaves_striprtf_output_unchanged_on_every_corpus_body(corpus_rtf_bodies):
    for name, body in corpus_rtf_bodies.items():
        assert rtf.rtf_to_text(body) == striprtf_alone(body), name
        assert len(rtf.drop_textless_groups(body)) <= len(body)


def test_encapsulated_html_has_the_words_striprtf_found(corpus_rtf_bodies):
    """The same words, in the same order, but for two things only the RTF rendering of the HTML
    shows as text: hyperlink targets, which striprtf writes as ("url") after the link text, and
    an image's alt text, which the rendering shows in place of the image. In the HTML both are
    attributes, which html_to_text leaves out for an HTML body as well."""
    for name, body in corpus_rtf_bodies.items():
        markup = rtf.encapsulated_html(body)
        if markup is None:
            continue
        before = STRIPRTF_LINK_TARGET.sub(" ", striprtf_alone(body)).split()
        after = html_to_text(markup).split()
        alt_words = {word for alt in ALT_TEXT.findall(markup)
                     for word in html.unescape(alt).split()}
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        unexplained = [(operation, before[a1:a2], after[b1:b2])
                       for operation, a1, a2, b1, b2 in matcher.get_opcodes()
                       if operation != "equal"
                       and not (operation == "delete" and set(before[a1:a2]) <= alt_words)]
        assert unexplained == [], name


def test_japanese_body_of_the_embedded_message_reads_whole(corpus_rtf_bodies):
    embedded = [body for name, body in corpus_rtf_bodies.items()
                if name.startswith("msgInMsg.pst pffexport") and "Attachment00001" in name]
    if not embedded:
        pytest.skip("pffexport is not installed (apt-get install pff-tools)")
    text = html_to_text(rtf.encapsulated_html(embedded[0]))
    assert text.startswith("この電子メール メッセージは、アカウントの設定のテスト中に、"
                           "Microsoft Outlook から自動送信されたものです。")


# --- de-encapsulation, crafted -------------------------------------------------------------------

def test_html_entities_stay_entities_in_the_html():
    body = html_document(rb"{\*\htmltag64 <p>}\htmlrtf {\htmlrtf0 Tom {\*\htmltag84 &amp;}"
                         rb"\htmlrtf &\htmlrtf0  Jerry{\*\htmltag84 &nbsp;}\htmlrtf {\'a0}"
                         rb"\htmlrtf0 {\*\htmltag72 </p>}\htmlrtf\par}\htmlrtf0 ")
    markup = rtf.encapsulated_html(body)
    assert markup == "<p>Tom &amp; Jerry&nbsp;</p>"
    assert html_to_text(markup) == "Tom & Jerry"


def test_hex_escapes_in_cp1252_inside_and_outside_htmltag_groups():
    body = html_document(rb'{\*\htmltag84 <p title="caf\'e9">}caf\'e9 \'93quoted\'94')
    assert rtf.encapsulated_html(body) == '<p title="café">café \u201cquoted\u201d'


def test_hex_escapes_in_cp932_decode_double_byte_characters_whole():
    # \'95\'5c is one character whose second byte is a backslash in ASCII; f1's \fcharset0
    # makes its bytes cp1252 even in a cp932 document.
    body = html_document(rb"{\*\htmltag64 <p>}\htmlrtf {\htmlrtf0 \'95\'5c\'8e\'a6 {\f1 caf\'e9}"
                         rb"{\*\htmltag72 </p>}\htmlrtf\par}\htmlrtf0 ", codepage=932,
                         fonts=rb"{\f0\fswiss\fcharset128 MS PGothic;}"
                               rb"{\f1\fmodern\fcharset0 Courier New;}")
    assert rtf.encapsulated_html(body) == "<p>表示 café</p>"


def test_hex_escapes_use_the_document_code_page_when_the_font_names_none():
    body = html_document(rb"\'93\'fa\'96\'7b", codepage=932)   # 日本
    assert rtf.encapsulated_html(body) == "日本"


@pytest.mark.parametrize("escaped, expected", [
    (rb"\u8364?", "€"),                       # \uc1 (the header's): one stand-in skipped
    (rb"{\uc2\u26085\'93\'fa}x", "日x"),       # \uc2: both bytes of the cp932 stand-in
    (rb"{\uc0\u8364 x}", "€x"),               # \uc0: nothing skipped
    (rb"\u-10179?\u-8704?", "\U0001F600"),    # negative values, a surrogate pair
    (rb"{\uc3\u8364}ab", "€ab"),              # a group's end ends the skip
    (rb"{\uc2 a}\u8364?b", "a€b"),             # \uc is restored when its group ends
    (rb"\u8364\par x", "€x"),                 # a control word counts as one skipped character
], ids=["uc1", "uc2-hex", "uc0", "surrogates", "group-end", "uc-scope", "control-word"])
def test_unicode_escapes_and_their_skip_counts(escaped, expected):
    assert rtf.encapsulated_html(html_document(escaped)) == expected


def test_htmlrtf_toggles_are_scoped_by_groups():
    body = html_document(rb"\htmlrtf hidden {\htmlrtf0 a}b\htmlrtf0 c{\htmlrtf x}d{{\htmlrtf y}}e")
    assert rtf.encapsulated_html(body) == "acde"


def test_control_words_and_escapes_inside_htmltag_groups():
    body = html_document(rb"{\*\htmltag241 <style>p \{color:red\}\par \tab a\\b</style>}"
                         rb"{\*\htmltag4 \par }")
    assert rtf.encapsulated_html(body) == "<style>p {color:red}\r\n\ta\\b</style>\r\n"


def test_destinations_without_html_are_left_out():
    body = html_document(rb'{\*\mhtmltag84 <img src="cid:rewritten">}'
                         rb'{\*\htmltag84 <img src="cid:a">}{\*\generator Riched20;}'
                         rb"{\pict\pngblip\bin4 }{x}}after", fonts=rb"{\f0 Arial;}")
    assert rtf.encapsulated_html(body) == '<img src="cid:a">after'


def test_fromhtml_counts_only_in_the_header():
    assert rtf.is_encapsulated_html(html_document(b"x"))
    assert not rtf.is_encapsulated_html(rb"{\rtf1\ansi{\fonttbl{\f0 A;}}\fromhtml1 x}")
    assert not rtf.is_encapsulated_html(rb"{\rtf1\ansi\fromtext \deff0 x}")
    assert rtf.encapsulated_html(rb"{\rtf1\ansi\deff0{\fonttbl{\f0 A;}} plain}") is None


def test_a_truncated_body_gives_the_html_up_to_where_it_stops():
    body = html_document(rb"{\*\htmltag64 <p>}\htmlrtf {\htmlrtf0 first \'e9{\*\htmltag72 </p>}"
                         rb"\htmlrtf\par}\htmlrtf0 {\*\htmltag64 <p>}\htmlrtf {\htmlrtf0 second"
                         rb"{\*\htmltag72 </p>}\htmlrtf\par}\htmlrtf0 ")
    whole = rtf.encapsulated_html(body)
    assert whole == "<p>first é</p><p>second</p>"
    for end in range(len(body)):
        rtf.encapsulated_html(body[:end])   # never raises, wherever the body stops
    assert rtf.encapsulated_html(body[:body.index(b"second") + 3]) == "<p>first é</p><p>sec"


# --- the pre-pass before striprtf, crafted ------------------------------------------------------

def test_prepass_cuts_groups_without_text_and_striprtf_writes_the_same():
    body = (rb"{\rtf1\ansi\ansicpg1251\deff0{\fonttbl{\f0\fcharset204{\*\panose 0}Arial;}}"
            rb"{\colortbl;\red0\green0\blue0;}{\stylesheet{\s0 Normal;}}{\info{\title T}}"
            rb"{\*\themedata 7b7d7b}{\pict\wmetafile8\bin3 }{}}\'cf\'f0\'e8"
            rb'\u8364{\*\bkmkstart b}x {\field{\*\fldinst{HYPERLINK "http://e.org"}}'
            rb"{\fldrslt{\*\bkmkstart c}link}}\par}")
    cut = rtf.drop_textless_groups(body)
    for gone in (rb"\colortbl", rb"\stylesheet", rb"\info", rb"\themedata", rb"\pict",
                 rb"\bkmkstart b"):
        assert gone not in cut
    assert rb"{\fonttbl{\f0\fcharset204{\*\panose 0}Arial;}}" in cut
    assert rb"{\fldrslt{\*\bkmkstart c}link}" in cut
    assert rtf.rtf_to_text(body) == striprtf_alone(body)
    assert rtf.rtf_to_text(body).split() == ["При€x", 'link("http://e.org")']


def test_prepass_leaves_escaped_braces_alone():
    body = rb"{\rtf1\ansi a\{\*\x b\} c}"
    assert rtf.drop_textless_groups(body) == body


def test_prepass_of_a_truncated_group_cuts_to_the_end():
    body = rb"{\rtf1\ansi text{\*\themedata 7b7d"
    assert rtf.drop_textless_groups(body) == rb"{\rtf1\ansi text{}"
    assert rtf.rtf_to_text(body) == striprtf_alone(body) == "text"
