"""Deterministic ids. Re-running the same input gives the same ids, so re-indexing overwrites."""

from __future__ import annotations

import hashlib
import re
import unicodedata


def stable_id(*parts: object) -> str:
    """A 32-hex-digit id from its parts. Parts are joined unambiguously (length-prefixed)."""
    digest = hashlib.sha256()
    for part in parts:
        encoded = ("" if part is None else str(part)).encode("utf-8", "surrogatepass")
        digest.update(str(len(encoded)).encode("ascii") + b":" + encoded)
    return digest.hexdigest()[:32]


def top_level_id(case: str, custodian_id: str, source_path: str, locator: str,
                 content_sha256: str) -> str:
    return stable_id("item", case, custodian_id, source_path, locator, content_sha256)


def child_id(parent_id: str, family_path: str, content_sha256: str) -> str:
    return stable_id("child", parent_id, family_path, content_sha256)


def exception_id(case: str, about: str, stage: str, reason: str, locator: str = "") -> str:
    return stable_id("exception", case, about, stage, reason, locator)


def slugify(text: str) -> str:
    """A lower-case ASCII slug: 'Jane Smith' -> 'jane-smith'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug


def custodian_id_for(display_name: str) -> str:
    """Stable custodian id. Names with no ASCII letters still get a distinct, stable id."""
    slug = slugify(display_name)
    return slug if slug else "custodian-" + stable_id("custodian", display_name)[:12]
