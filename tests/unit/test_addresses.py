"""The plain-address fast path must give exactly what the standard library's parser gives."""

import email.utils
import random

import pytest
from helpers import CORPUS

from pipeline.decoding import decode_header_value, parse_addresses, plain_address_pairs

PLAIN_NAMES = ["John Smith", "O'Brien", "Mary-Jane K", "x", "A B C D", "ACME Corp!"]
ODD_NAMES = ["J. Smith", "José Núñez", "Ünïcode", "a.b", "name with  two spaces",
             "Smith (work)"]
QUOTED = ['"Smith, John"', '""', '" padded "', '"a@b.c"', '"x <y>"', '"with \\"escape\\""']
PLAIN_ADDRESSES = ["j@x.com", "john.smith@example.org", "a+tag@sub.domain.co.uk",
                   "UPPER@Case.COM", "o'neil@x.ie", "weird!#$%&*/=?^_`{|}~-@x.y"]
ODD_ADDRESSES = ["no-domain", "a..b@x.com", "a@b.", "@x.com", "a@[127.0.0.1]",
                 '"quoted local"@x.com', "a@b@c", "ünï@x.com"]


def _pick(rng: random.Random, plain: list[str], odd: list[str]) -> str:
    return rng.choice(plain if rng.random() < 0.9 else odd)


def _entry(rng: random.Random) -> str:
    address = _pick(rng, PLAIN_ADDRESSES, ODD_ADDRESSES)
    name = _pick(rng, PLAIN_NAMES, ODD_NAMES)
    form = rng.choice([0, 0, 1, 2, 2, 3, 3, 4, 5, 6])
    if form == 0:
        return address
    if form == 1:
        return f"<{address}>"
    if form == 2:
        return f"{name} <{address}>"
    if form == 3:
        return f"{rng.choice(QUOTED)} <{address}>"
    if form == 4:
        return f"{name}<{address}>"
    if form == 5:
        return f"{address} ({name})"
    return rng.choice(["undisclosed-recipients:;", "group: a@b.c, d@e.f;", "", " ", ",", name])


def _stdlib(values: list[str]) -> list[tuple[str, str]]:
    return [(name.strip(), address.strip()) for name, address in email.utils.getaddresses(values)
            if name.strip() or address.strip()]


def parse_addresses_by_stdlib(values: list[str]) -> list[tuple[str, str]]:
    """What parse_addresses gave before the plain forms had their own path."""
    return _stdlib([decode_header_value(value, []) for value in values])


def test_random_address_lists_parse_as_the_standard_library_parses_them():
    rng = random.Random(20261128)
    plain = 0
    for _ in range(20_000):
        separator = rng.choice([", ", ",", " , ", " ", ""])
        values = [separator.join(_entry(rng) for _ in range(rng.randint(1, 4)))
                  for _ in range(rng.randint(1, 2))]
        plain += all(plain_address_pairs(value) is not None for value in values)
        assert parse_addresses(values, []) == parse_addresses_by_stdlib(values), values
    # Both paths were taken, many times over.
    assert 2_000 < plain < 18_000


@pytest.mark.parametrize("value, pairs", [
    ("John Smith <j@x.com>", [("John Smith", "j@x.com")]),
    ('"Smith, John" <j@x.com>, a@b.c', [("Smith, John", "j@x.com"), ("", "a@b.c")]),
    ("<j@x.com>", [("", "j@x.com")]),
])
def test_the_plain_forms_are_read_without_the_standard_library(value, pairs):
    assert plain_address_pairs(value) == pairs


@pytest.mark.parametrize("value", [
    "J. Smith <j@x.com>", "j@x.com (John)", "undisclosed-recipients:;", "José <j@x.com>",
    '"a \\" b" <j@x.com>', "", "a..b@x.com",
])
def test_anything_else_is_left_to_the_standard_library(value):
    assert plain_address_pairs(value) is None


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not at {CORPUS}")
def test_every_address_header_in_the_shared_corpus_parses_as_the_standard_library_does():
    import email

    checked = 0
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix.lower() not in (".eml", ".mbox", ".txt", "") or not path.is_file():
            continue
        if path.stat().st_size > 5_000_000:
            continue
        message = email.message_from_bytes(path.read_bytes())
        for header in ("From", "To", "Cc", "Bcc", "Reply-To", "Sender"):
            values = [str(value) for value in message.get_all(header, [])]
            if values:
                assert parse_addresses(values, []) == parse_addresses_by_stdlib(values), path
                checked += 1
    assert checked > 20
