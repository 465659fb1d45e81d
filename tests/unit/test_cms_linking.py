"""Linking people named in records to custodians by name, alias, email and staff number."""

import pytest

from pipeline.cms.linking import CustodianLinker, words
from pipeline.manifest import parse_manifest


@pytest.fixture
def linker(tmp_path):
    (tmp_path / "mail").mkdir()
    manifest = parse_manifest({"case": "c", "sources": [
        {"custodian": "Jane Smith", "paths": ["mail"], "aliases": ["J. Smith", "Janey"],
         "emails": ["Jane.Smith@Force.example"], "staff_ids": ["PC 1234"]},
        {"custodian": "Bob Jones", "paths": ["mail"], "emails": ["bjones@force.example"],
         "staff_ids": ["DS 77"]},
        {"custodian": "Spam 1", "paths": ["mail"], "aliases": ["Smith"]},
        {"custodian": "Zoë Brontë", "paths": ["mail"]},
    ]}, tmp_path)
    return CustodianLinker.from_sources(manifest.sources)


@pytest.mark.parametrize("written", [
    "Jane Smith", "jane  SMITH", "J. Smith", "J Smith", "Janey", "Smith, Jane",
    "DS Jane Smith", "Jane Smith (retired)",
])
def test_names_and_aliases_link_whatever_the_case_spacing_or_order(linker, written):
    assert linker.link_person(written) == ["Jane Smith"]


@pytest.mark.parametrize("written", ["jane.smith@force.example", "JANE.SMITH@FORCE.EXAMPLE",
                                     "Someone <jane.smith@force.example>"])
def test_email_addresses_link_exactly(linker, written):
    assert linker.link_person(written) == ["Jane Smith"]


@pytest.mark.parametrize("written", ["PC 1234", "pc1234", "PC-1234", "Collar PC 1234",
                                     "PC1234 (acting sergeant)"])
def test_staff_numbers_link_with_or_without_spacing(linker, written):
    assert linker.link_person(written) == ["Jane Smith"]


def test_the_longest_name_wins_over_an_alias_inside_it(linker):
    # 'Smith' is an alias of Spam 1, but 'Jane Smith' is the better match.
    assert linker.link_person("Jane Smith") == ["Jane Smith"]
    assert linker.link_person("Mr Smith") == ["Spam 1"]


def test_conflicting_identifiers_link_every_custodian_they_name(linker):
    assert linker.link_person("Jane Smith <bjones@force.example>") == ["Jane Smith", "Bob Jones"]
    assert linker.link_person("DS 77 J. Smith") == ["Jane Smith", "Bob Jones"]


@pytest.mark.parametrize("written", ["Janet Smithers", "PC 12345", "Spam 12", "Bobby Jones",
                                     "jane.smith@other.example", "spam1@example.org", ""])
def test_near_misses_do_not_link(linker, written):
    assert linker.link_person(written) == []


def test_accents_are_ignored(linker):
    assert linker.link_person("Zoe Bronte") == ["Zoë Brontë"]
    assert linker.link_person("ZOË BRONTË") == ["Zoë Brontë"]


def test_free_text_links_everyone_it_mentions_in_manifest_order(linker):
    text = ("Spoke to PC1234 about it. Email from bjones@force.example forwarded; "
            "Zoe Bronte to reply.")
    assert linker.link_text(text) == ["Jane Smith", "Bob Jones", "Zoë Brontë"]
    assert linker.link_text("Nothing relevant, spam 12 times.") == []


def test_custodian_ids_come_from_the_manifest(linker):
    assert linker.custodian_id("Zoë Brontë") == "zoe-bronte"


def test_words_split_letters_from_digits():
    assert words("DS Jane Smith (PC1234)") == "-ds-jane-smith-pc-1234-"
    assert words("  ") == ""
