"""Typed records that mirror schemas/. A unit test keeps Item's fields equal to the schema's."""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline import __version__


@dataclass
class Item:
    id: str
    case: str
    type: str
    item_class: str | None = None
    custodian: str | None = None
    custodian_id: str | None = None
    custodians: list[str] = field(default_factory=list)
    source_path: str | None = None
    source_format: str | None = None
    source_locator: str | None = None
    folder_path: str | None = None
    recovered: bool = False
    parent_id: str | None = None
    family_id: str | None = None
    level: int = 0
    family_path: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    conversation_index: str | None = None
    subject: str | None = None
    from_: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    from_address: str | None = None
    recipient_addresses: list[str] = field(default_factory=list)
    date: datetime | None = None
    date_original: str | None = None
    date_utc_offset_minutes: int | None = None
    date_status: str | None = None
    received_date: datetime | None = None
    body: str | None = None
    body_html: str | None = None
    text_source: str | None = None
    headers: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    email_hash: str | None = None
    message_id_hash: str | None = None
    attachment_names: list[str] = field(default_factory=list)
    attachment_count: int = 0
    has_attachments: bool = False
    location: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    due_date: datetime | None = None
    company: str | None = None
    contact_addresses: list[str] = field(default_factory=list)
    phone_numbers: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    importance: str | None = None
    record_system: str | None = None
    record_id: str | None = None
    case_ref: str | None = None
    record_type: str | None = None
    people: list[str] = field(default_factory=list)
    record_status: str | None = None
    outcome: str | None = None
    decided_date: datetime | None = None
    extra_fields: list[str] = field(default_factory=list)
    decode_warnings: list[str] = field(default_factory=list)
    exception_reason: str | None = None
    exception_message: str | None = None
    exception_item_id: str | None = None
    is_duplicate: bool = False
    duplicate_count: int = 1
    master_id: str | None = None
    duplicate_paths: list[str] = field(default_factory=list)
    thread_id: str | None = None
    thread_position: int | None = None
    is_inclusive: bool | None = None
    near_duplicate_group: str | None = None
    near_duplicate_score: float | None = None
    trawl_version: str = __version__

    @staticmethod
    def schema_name(attribute: str) -> str:
        """`from` is a Python keyword, so the attribute is `from_`."""
        return "from" if attribute == "from_" else attribute

    def to_row(self) -> tuple[Any, ...]:
        """A tuple in schema order, the cheapest shape to hand to Spark."""
        return _item_row(self)


# One C call per item: walking dataclasses.fields() in Python cost half as much as hashing it.
_item_row = operator.attrgetter(*(f.name for f in dataclasses.fields(Item)))
ITEM_FIELD_NAMES = tuple(Item.schema_name(f.name) for f in dataclasses.fields(Item))


@dataclass(frozen=True)
class SourceFile:
    """One evidence file found under a manifest path, with its chain-of-custody hashes."""

    case: str
    custodian: str
    custodian_id: str
    path: str
    size: int
    format: str
    md5: str | None = None
    sha256: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class WorkUnit:
    """A piece of one source file that one task reads: the whole file, or a byte range of it."""

    case: str
    custodian: str
    custodian_id: str
    path: str
    format: str
    start: int = 0
    end: int | None = None
