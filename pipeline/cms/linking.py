"""People named in records, linked to the case's custodians.

A custodian is known by their display name, aliases, email addresses and staff (collar)
numbers, all from the manifest. Names and staff numbers are compared as runs of whole words,
ignoring case, accents, punctuation and the split between letters and digits, so 'PC 1234',
'pc1234' and 'PC-1234' are one staff number, and 'DS Jane Smith (PC 1234)' names Jane Smith.
'Smith, Jane' is also read as 'Jane Smith'. Email addresses must match exactly (lower-cased),
and their words count as neither name nor staff number: spam1@example.org is not 'Spam 1'.

A cell naming one person links the custodians its email addresses and staff numbers identify,
and of the names it contains, the longest: a custodian 'Jane Smith' wins over another whose
alias is 'Smith'. Free text links every custodian it mentions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from pipeline.ids import custodian_id_for, slugify
from pipeline.manifest import CustodianSource

EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")


def words(text: str) -> str:
    """'DS Jane Smith (PC1234)' -> '-ds-jane-smith-pc-1234-': whole words between dashes."""
    slug = LETTER_DIGIT.sub("-", slugify(text))
    return f"-{slug}-" if slug else ""


def emails_in(text: str) -> list[str]:
    return [address.lower().rstrip(".") for address in EMAIL.findall(text)]


def _surname_first(text: str) -> str | None:
    """'Smith, Jane' -> 'Jane Smith'; None unless the text has exactly one comma."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) == 2 and all(parts) and "@" not in text:
        return f"{parts[1]} {parts[0]}"
    return None


@dataclass(frozen=True)
class Identity:
    custodian: str
    custodian_id: str
    names: tuple[str, ...]          # display name and aliases, as words()
    staff_ids: tuple[str, ...]      # as words()
    emails: tuple[str, ...]         # lower-cased


class CustodianLinker:
    """Finds the custodians a person's cell or a free text refers to. Picklable for Spark."""

    def __init__(self, identities: Sequence[Identity]):
        self.identities = tuple(identities)
        self._by_name = {identity.custodian: identity for identity in self.identities}

    @classmethod
    def from_sources(cls, sources: Iterable[CustodianSource]) -> "CustodianLinker":
        identities = []
        for source in sources:
            names = tuple(dict.fromkeys(w for w in map(words, (source.custodian,) + source.aliases)
                                        if w))
            staff = tuple(dict.fromkeys(w for w in map(words, source.staff_ids) if w))
            identities.append(Identity(source.custodian, source.custodian_id, names, staff,
                                       tuple(e.lower() for e in source.emails)))
        return cls(identities)

    def custodian_id(self, custodian: str) -> str:
        identity = self._by_name.get(custodian)
        return identity.custodian_id if identity else custodian_id_for(custodian)

    def link_person(self, text: str) -> list[str]:
        """Custodians one person's cell identifies, in manifest order."""
        exact = self._by_email_or_staff(text)
        texts = [text] + [swapped for swapped in [_surname_first(text)] if swapped]
        named: dict[str, int] = {}
        for candidate in texts:
            haystack = words(EMAIL.sub(" ", candidate))
            for identity in self.identities:
                longest = max((len(name) for name in identity.names if name in haystack),
                              default=0)
                if longest:
                    named[identity.custodian] = max(longest, named.get(identity.custodian, 0))
        if named:
            best = max(named.values())
            exact |= {custodian for custodian, length in named.items() if length == best}
        return self._in_manifest_order(exact)

    def link_text(self, text: str) -> list[str]:
        """Every custodian a free text mentions, in manifest order."""
        found = self._by_email_or_staff(text)
        haystack = words(EMAIL.sub(" ", text))
        found |= {identity.custodian for identity in self.identities
                  if any(name in haystack for name in identity.names)}
        return self._in_manifest_order(found)

    def _by_email_or_staff(self, text: str) -> set[str]:
        addresses = set(emails_in(text))
        haystack = words(EMAIL.sub(" ", text))  # an address's words are no name nor number
        return {identity.custodian for identity in self.identities
                if addresses & set(identity.emails)
                or any(staff in haystack for staff in identity.staff_ids)}

    def _in_manifest_order(self, custodians: set[str]) -> list[str]:
        return [identity.custodian for identity in self.identities
                if identity.custodian in custodians]
