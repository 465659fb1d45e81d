"""Export rows to items: every row becomes a record item or a reject, never nothing.

A record is an item of type `record` carrying the mapped fields, its people as 'role: name', the
custodians they link to, its dates in UTC, and every unmapped column as an extra field.

A reject is an exception item (type `exception`) with `item_class` 'rejected_row' and
`exception_reason` 'reject:<reason>', the reason the row failed first; `exception_message`
names the file, the row and every problem found; `body` keeps the row's content so nothing is
lost. Reasons: wrong_column_count, unreadable_row, invalid_json, not_an_object, missing_id,
duplicate_id, unparseable_date, missing_<field> (a field the mapping requires is empty, e.g.
missing_case_ref, missing_date) and internal_error (a bug, reported rather than dropped).

A file that cannot be read at all gives one exception item for the file (reason
unreadable_export); a header lacking columns the mapping names gives one (missing_columns)
beside the rows' own items.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Iterator

from pipeline import ids
from pipeline.cms.dates import MISSING, UNPARSEABLE, RecordDate, parse_record_date
from pipeline.cms.linking import CustodianLinker
from pipeline.cms.mapping import DATE_FIELDS, RecordMapping, column_key
from pipeline.cms.readers import Export, RawRow, open_export
from pipeline.errors import RecordExportError
from pipeline.records import Item

RECORD_TYPE = "record"
EXCEPTION_TYPE = "exception"
REJECT_CLASS = "rejected_row"
REJECT_PREFIX = "reject:"
UNREADABLE_EXPORT = "unreadable_export"
MISSING_COLUMNS = "missing_columns"
INTERNAL_ERROR = "internal_error"
REJECT_STAGE = "validate record"
EXPORT_STAGE = "read export"


@dataclass(frozen=True)
class ExportFile:
    """One export file named by a manifest's `records` entry: what one Spark task reads."""

    case: str
    system: str
    path: str
    mapping: RecordMapping


class RowRejected(Exception):
    """Raised while building a record; caught in this module and turned into a reject."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{reason}: {detail}" for reason, detail in problems))
        self.problems = problems


def cell_text(value: Any, keep_lines: bool = False) -> str | None:
    """An export value as text: None when empty; whitespace runs collapsed unless keep_lines."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))  # spreadsheets store 1234 as 1234.0
    elif isinstance(value, (datetime, date, time)):
        text = value.isoformat()
    elif isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        text = "; ".join(t for t in (cell_text(v, keep_lines) for v in value) if t)
    elif isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str) \
            if value else ""
    else:
        text = str(value)
    text = text.strip() if keep_lines else " ".join(text.split())
    return text or None


def _row_content(values: dict[str, Any]) -> str:
    """The row as 'column: value' lines: what a reviewer reads on a reject."""
    return "\n".join(f"{column}: {text}" for column, value in values.items()
                     if (text := cell_text(value, keep_lines=True)))


def _row_hashes(values: dict[str, Any]) -> tuple[bytes, str, str]:
    """Canonical bytes of a row and their MD5 and SHA-256, independent of column order."""
    canonical = json.dumps({column: cell_text(value, keep_lines=True)
                            for column, value in values.items()},
                           ensure_ascii=False, sort_keys=True).encode("utf-8")
    return canonical, hashlib.md5(canonical).hexdigest(), hashlib.sha256(canonical).hexdigest()


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def build_subject(record_type: str | None, record_id: str, case_ref: str | None,
                  title: str | None) -> str:
    """'Allegation AL-0042-2 (PSD/2021/0042): Excessive force during arrest'."""
    kind = (record_type or "record").replace("_", " ")
    subject = f"{kind[:1].upper()}{kind[1:]} {record_id}"
    if case_ref and case_ref != record_id:
        subject += f" ({case_ref})"
    return f"{subject}: {title}" if title else subject


@dataclass
class RecordBuilder:
    """Builds the items of one export file, row by row, remembering ids already seen."""

    export_file: ExportFile
    export: Export
    linker: CustodianLinker
    max_text_chars: int
    seen_ids: dict[str, str] = field(default_factory=dict)

    @property
    def mapping(self) -> RecordMapping:
        return self.export_file.mapping

    def item_for(self, row: RawRow) -> Item:
        if row.problem:
            return self.reject(row, [(row.problem, row.detail or row.problem)])
        try:
            return self.record(row)
        except RowRejected as rejected:
            return self.reject(row, rejected.problems)
        except Exception as exc:  # a bug must cost one row, reported, never the file
            return self.reject(row, [(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")])

    # --- records ------------------------------------------------------------------------------

    def record(self, row: RawRow) -> Item:
        values = row.values or {}
        cells = {column_key(column): value for column, value in values.items()}
        mapping = self.mapping

        def cell(column: str | None) -> Any:
            return cells.get(column_key(column)) if column else None

        def text(field_name: str) -> str | None:
            return cell_text(cell(mapping.column_for(field_name))) \
                or mapping.default_for(field_name)

        dates = {name: self._date(cell(mapping.column_for(name)))
                 for name in DATE_FIELDS if mapping.column_for(name)}
        body = self._body(cell)
        record_id = text("record_id")
        self._validate(record_id, dates, body, text)
        self._check_unique(record_id, row)
        people, custodians = self._people(cell)
        title = text("title")
        if mapping.link_text:
            custodians = _unique(custodians + self.linker.link_text(
                "\n".join(t for t in (title, body) if t)))
        timeline = next((dates[name] for name in mapping.timeline_fields()
                         if not dates[name].missing), RecordDate(None, None, MISSING))
        canonical, md5, sha256 = _row_hashes(values)
        item_id = ids.stable_id(RECORD_TYPE, self.export_file.case, self.export_file.system,
                                self.export_file.path, row.locator, record_id, sha256)
        warnings = list(self.export.warnings)
        record_type = text("record_type")
        first = custodians[0] if custodians else None
        return Item(
            id=item_id, case=self.export_file.case, type=RECORD_TYPE, item_class=RECORD_TYPE,
            custodian=first, custodian_id=self.linker.custodian_id(first) if first else None,
            custodians=custodians, source_path=self.export_file.path,
            source_format=self.export.format, source_locator=row.locator,
            family_id=item_id, level=0, family_path="",
            subject=build_subject(record_type, record_id, text("case_ref"), title),
            date=timeline.utc, date_original=timeline.original,
            date_utc_offset_minutes=timeline.offset_minutes, date_status=timeline.status,
            received_date=dates["received_date"].utc if "received_date" in dates else None,
            body=self._truncated(body, warnings), text_source="plain" if body else "none",
            size=len(canonical), md5=md5, sha256=sha256,
            record_system=self.export_file.system, record_id=record_id,
            case_ref=text("case_ref"), record_type=record_type, people=people,
            record_status=text("record_status"), outcome=text("outcome"),
            decided_date=dates["decided_date"].utc if "decided_date" in dates else None,
            extra_fields=self._extra_fields(values), decode_warnings=sorted(set(warnings)))

    def _date(self, value: Any) -> RecordDate:
        serial = {"xlsx": "excel", "json": "unix", "jsonl": "unix"}.get(self.export.format)
        return parse_record_date(value, formats=self.mapping.date_formats,
                                 day_first=self.mapping.day_first, zone=self.mapping.timezone,
                                 serial=serial)

    def _body(self, cell: Any) -> str | None:
        columns = self.mapping.body_columns
        texts = [(column, cell_text(cell(column), keep_lines=True)) for column in columns]
        texts = [(column, text) for column, text in texts if text]
        if len(columns) == 1:
            return texts[0][1] if texts else None
        # Several free-text columns: each labelled, so the reader knows which said what.
        return "\n\n".join(f"{column}:\n{text}" for column, text in texts) or None

    def _validate(self, record_id: str | None, dates: dict[str, RecordDate],
                  body: str | None, text: Any) -> None:
        mapping = self.mapping
        problems: list[tuple[str, str]] = []
        if not record_id:
            problems.append(("missing_id", f"column {mapping.column_for('record_id')!r} is "
                                           f"empty"))
        for name, parsed in dates.items():
            if parsed.status == UNPARSEABLE:
                problems.append(("unparseable_date", f"column {mapping.column_for(name)!r} has "
                                                     f"{parsed.original!r}"))
        for name in mapping.required:
            if name == "date":
                if all(dates[f].missing for f in mapping.timeline_fields()):
                    columns = ", ".join(repr(mapping.column_for(f))
                                        for f in mapping.timeline_fields())
                    problems.append(("missing_date", f"no date in {columns}"))
            elif name == "body":
                if not body:
                    problems.append(("missing_body", "no free text"))
            elif name in dates:
                if dates[name].missing:
                    problems.append((f"missing_{name}",
                                     f"column {mapping.column_for(name)!r} is empty"))
            elif not text(name):
                problems.append((f"missing_{name}",
                                 f"column {mapping.column_for(name)!r} is empty"))
        if problems:
            raise RowRejected(problems)

    def _check_unique(self, record_id: str, row: RawRow) -> None:
        if not self.mapping.unique_ids:
            return
        first = self.seen_ids.setdefault(record_id, row.locator)
        if first != row.locator:
            raise RowRejected([("duplicate_id", f"record id {record_id!r} was already read at "
                                                f"{first}")])

    def _people(self, cell: Any) -> tuple[list[str], list[str]]:
        people: list[str] = []
        custodians: list[str] = []
        for person in self.mapping.people:
            value = cell(person.column)
            if isinstance(value, list):
                names = [cell_text(v) for v in value]
            else:
                whole = cell_text(value)
                names = whole.split(person.split) if whole and person.split else [whole]
            for name in (" ".join(n.split()) for n in names if n and n.strip()):
                people.append(f"{person.role}: {name}")
                custodians.extend(self.linker.link_person(name))
        return _unique(people), _unique(custodians)

    def _extra_fields(self, values: dict[str, Any]) -> list[str]:
        named = self.mapping.named_columns()
        return [f"{column}: {text}" for column, value in values.items()
                if column_key(column) not in named
                and (text := cell_text(value, keep_lines=True))]

    def _truncated(self, body: str | None, warnings: list[str]) -> str | None:
        if body is not None and len(body) > self.max_text_chars:
            warnings.append(f"text truncated at {self.max_text_chars} characters")
            return body[:self.max_text_chars]
        return body

    # --- rejects ------------------------------------------------------------------------------

    def reject(self, row: RawRow, problems: list[tuple[str, str]]) -> Item:
        reason = problems[0][0]
        path = self.export_file.path
        details = "; ".join(f"{why}: {detail}" for why, detail in problems)
        record_id = None
        if row.values:
            record_id = cell_text({column_key(c): v for c, v in row.values.items()}.get(
                column_key(self.mapping.column_for("record_id") or "")))
        return Item(
            id=ids.exception_id(self.export_file.case, f"{path}#{row.locator}", REJECT_STAGE,
                                reason, row.locator),
            case=self.export_file.case, type=EXCEPTION_TYPE, item_class=REJECT_CLASS,
            source_path=path, source_format=self.export.format, source_locator=row.locator,
            family_path=REJECT_STAGE, record_system=self.export_file.system,
            record_id=record_id,
            body=_row_content(row.values) if row.values is not None else row.raw,
            text_source="plain",
            exception_reason=REJECT_PREFIX + reason,
            exception_message=f"{os.path.basename(path)} {row.locator}: {details}"[:4000],
            decode_warnings=sorted(set(self.export.warnings)))


def export_exception(export_file: ExportFile, export_format: str | None, reason: str,
                     message: str) -> Item:
    """An exception item about a whole export file."""
    path = export_file.path
    return Item(
        id=ids.exception_id(export_file.case, path, EXPORT_STAGE, reason, "file"),
        case=export_file.case, type=EXCEPTION_TYPE, item_class=reason, source_path=path,
        source_format=export_format, source_locator="file", family_path=EXPORT_STAGE,
        file_name=os.path.basename(path), record_system=export_file.system,
        exception_reason=reason, exception_message=message[:4000])


def missing_columns(export: Export, mapping: RecordMapping) -> list[str]:
    """Columns the mapping names that a headed export (CSV, XLSX) lacks."""
    if not export.columns:
        return []
    header = {column_key(column) for column in export.columns}
    named = [column for _, column in mapping.columns] + list(mapping.body_columns) + [
        person.column for person in mapping.people]
    return [column for column in dict.fromkeys(named) if column_key(column) not in header]


def export_items(export_file: ExportFile, linker: CustodianLinker,
                 max_text_chars: int) -> Iterator[Item]:
    """Every item of one export file: one per row, plus any exception about the file."""
    try:
        export = open_export(export_file.path, export_file.mapping)
    except RecordExportError as exc:
        yield export_exception(export_file, None, UNREADABLE_EXPORT, str(exc))
        return
    absent = missing_columns(export, export_file.mapping)
    if absent and export.columns:
        yield export_exception(export_file, export.format, MISSING_COLUMNS,
                               f"the header lacks column(s) the mapping names: "
                               f"{', '.join(map(repr, absent))}; those fields stay empty")
    builder = RecordBuilder(export_file, export, linker, max_text_chars)
    last = "the first row"
    try:
        for row in export.rows():
            last = row.locator
            yield builder.item_for(row)
    except (RecordExportError, OSError, UnicodeDecodeError) as exc:
        yield export_exception(export_file, export.format, UNREADABLE_EXPORT,
                               f"reading stopped after {last}: {exc}")
