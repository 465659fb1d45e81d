"""A source system's mapping file: which export column holds which record field.

The format is documented, with a complete example, in README.md ("Case-management records").
Every problem in a file is reported together, before any work starts, as a RecordMappingError.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from pipeline.errors import RecordMappingError

FORMATS = ("csv", "json", "jsonl", "xlsx")
# Record fields that take one column each. `title` only feeds the subject Trawl builds.
SCALAR_FIELDS = ("record_id", "case_ref", "record_type", "record_status", "outcome", "title")
DATE_FIELDS = ("date", "received_date", "decided_date")
BODY_FIELD = "body"
FIELD_NAMES = SCALAR_FIELDS + DATE_FIELDS + (BODY_FIELD,)
# The timeline date falls back to these, in order, when `date` is not mapped.
DATE_FALLBACKS = ("date", "received_date", "decided_date")
MAPPING_KEYS = {"system", "format", "csv", "xlsx", "json", "fields", "people", "defaults",
                "required", "dates", "link_text", "unique_ids"}
CSV_KEYS = {"delimiter", "encoding"}
XLSX_KEYS = {"sheet"}
JSON_KEYS = {"records"}
DATES_KEYS = {"formats", "day_first", "timezone"}
PERSON_KEYS = {"column", "role", "split"}
DELIMITER_NAMES = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "\\t": "\t"}
AUTO = "auto"


def column_key(name: str) -> str:
    """How column names are compared: case and runs of whitespace do not matter."""
    return " ".join(str(name).split()).casefold()


@dataclass(frozen=True)
class PersonColumn:
    """A column naming people in one role; `split` separates several people in one cell."""

    column: str
    role: str
    split: str | None = None


@dataclass(frozen=True)
class RecordMapping:
    system: str | None
    source: Path | None
    columns: tuple[tuple[str, str], ...]          # (record field, export column)
    body_columns: tuple[str, ...] = ()
    people: tuple[PersonColumn, ...] = ()
    defaults: tuple[tuple[str, str], ...] = ()    # (record field, value) for empty cells
    required: tuple[str, ...] = ()                # record_id is always required besides these
    format: str | None = None                     # None: detected per file
    delimiter: str | None = None                  # None: detected per file
    encoding: str | None = None                   # None: detected per file
    sheet: str | None = None                      # None: the first sheet
    records_key: str | None = None                # JSON: dotted key holding the records
    date_formats: tuple[str, ...] = ()
    day_first: bool = True
    timezone: str = "Europe/London"
    link_text: bool = False
    unique_ids: bool = True

    def column_for(self, field_name: str) -> str | None:
        return dict(self.columns).get(field_name)

    def default_for(self, field_name: str) -> str | None:
        return dict(self.defaults).get(field_name)

    def named_columns(self) -> frozenset[str]:
        """Column keys the mapping uses; every other column is kept as an extra field."""
        names = [column for _, column in self.columns] + list(self.body_columns)
        names += [person.column for person in self.people]
        return frozenset(column_key(name) for name in names)

    def timeline_fields(self) -> tuple[str, ...]:
        """The date fields that can give the record's timeline date, in order of preference."""
        return tuple(name for name in DATE_FALLBACKS if self.column_for(name))


def load_mapping(path: str | Path, system: str | None = None) -> RecordMapping:
    """Read and validate a mapping file; `system` is the manifest's name for the export."""
    mapping_path = Path(path)
    try:
        data = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RecordMappingError(f"mapping file not found: {mapping_path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordMappingError(f"mapping file {mapping_path} cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RecordMappingError(f"mapping file {mapping_path} is not valid YAML: {exc}") from exc
    return parse_mapping(data, mapping_path, system)


def parse_mapping(data: Any, source: Path | None = None,
                  system: str | None = None) -> RecordMapping:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise RecordMappingError(f"mapping {source or ''} must be a mapping with 'fields'")
    _unknown_keys(data, MAPPING_KEYS, "", problems)
    declared_system = data.get("system")
    if declared_system is not None and not isinstance(declared_system, str):
        problems.append("'system' must be a name")
    elif declared_system and system and declared_system != system:
        problems.append(f"'system' is {declared_system!r} but the manifest names {system!r}")
    columns, body_columns = _fields(data.get("fields"), problems)
    people = _people(data.get("people", []), problems)
    defaults = _defaults(data.get("defaults", {}), problems)
    required = _required(data.get("required", []), dict(columns), dict(defaults),
                         bool(body_columns), problems)
    csv_options = _section(data, "csv", CSV_KEYS, problems)
    xlsx_options = _section(data, "xlsx", XLSX_KEYS, problems)
    json_options = _section(data, "json", JSON_KEYS, problems)
    date_options = _section(data, "dates", DATES_KEYS, problems)
    mapping = RecordMapping(
        system=declared_system or system, source=source, columns=columns,
        body_columns=body_columns, people=people, defaults=defaults, required=required,
        format=_format(data.get("format", AUTO), problems),
        delimiter=_delimiter(csv_options.get("delimiter", AUTO), problems),
        encoding=_encoding(csv_options.get("encoding", AUTO), problems),
        sheet=_optional_text(xlsx_options, "sheet", "xlsx.sheet", problems),
        records_key=_optional_text(json_options, "records", "json.records", problems),
        date_formats=_date_formats(date_options.get("formats", []), problems),
        day_first=_flag(date_options, "day_first", True, "dates.day_first", problems),
        timezone=_timezone(date_options.get("timezone", "Europe/London"), problems),
        link_text=_flag(data, "link_text", False, "link_text", problems),
        unique_ids=_flag(data, "unique_ids", True, "unique_ids", problems))
    if problems:
        where = f" {source}" if source else ""
        raise RecordMappingError(f"mapping{where} has {len(problems)} problem(s):\n  - "
                                 + "\n  - ".join(problems))
    return mapping


def _unknown_keys(data: dict[str, Any], allowed: set[str], where: str,
                  problems: list[str]) -> None:
    for key in sorted(set(map(str, data)) - allowed):
        problems.append(f"{where}unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")


def _section(data: dict[str, Any], name: str, allowed: set[str],
             problems: list[str]) -> dict[str, Any]:
    section = data.get(name) or {}
    if not isinstance(section, dict):
        problems.append(f"'{name}' must be a mapping")
        return {}
    _unknown_keys(section, allowed, f"{name}: ", problems)
    return section


def _is_column(value: Any) -> bool:
    return isinstance(value, (str, int)) and bool(str(value).strip())


def _fields(raw: Any, problems: list[str]) -> tuple[tuple[tuple[str, str], ...],
                                                   tuple[str, ...]]:
    if not isinstance(raw, dict) or not raw:
        problems.append("'fields' must map record fields to export columns "
                        "(at least record_id)")
        return (), ()
    columns: list[tuple[str, str]] = []
    body: tuple[str, ...] = ()
    for name, column in raw.items():
        if name not in FIELD_NAMES:
            problems.append(f"fields: unknown record field '{name}' "
                            f"(allowed: {', '.join(FIELD_NAMES)})")
        elif name == BODY_FIELD:
            body = _body_columns(column, problems)
        elif column is None:
            continue  # written out in the file to say "this export has no such column"
        elif not _is_column(column):
            problems.append(f"fields: '{name}' must name one column (got {column!r})")
        else:
            columns.append((name, str(column).strip()))
    if "record_id" not in dict(columns):
        problems.append("fields: 'record_id' must name the column holding the record's id")
    return tuple(columns), body


def _body_columns(raw: Any, problems: list[str]) -> tuple[str, ...]:
    values = [raw] if isinstance(raw, (str, int)) else raw
    if values is None:
        return ()
    if not isinstance(values, list) or not all(_is_column(v) for v in values):
        problems.append("fields: 'body' must name a column or a list of columns")
        return ()
    return tuple(str(v).strip() for v in values)


def _people(raw: Any, problems: list[str]) -> tuple[PersonColumn, ...]:
    if not isinstance(raw, list):
        problems.append("'people' must be a list of {column, role[, split]}")
        return ()
    people = []
    for number, entry in enumerate(raw, start=1):
        where = f"people[{number}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a mapping with 'column' and 'role'")
            continue
        _unknown_keys(entry, PERSON_KEYS, f"{where}: ", problems)
        column, role, split = entry.get("column"), entry.get("role"), entry.get("split")
        if not _is_column(column):
            problems.append(f"{where}: 'column' must name an export column")
        elif not isinstance(role, str) or not role.strip():
            problems.append(f"{where} ({column}): 'role' must say who the people are, "
                            f"e.g. 'subject officer'")
        elif split is not None and (not isinstance(split, str) or not split):
            problems.append(f"{where} ({column}): 'split' must be a separator such as ';'")
        else:
            people.append(PersonColumn(str(column).strip(), " ".join(role.split()), split))
    return tuple(people)


def _defaults(raw: Any, problems: list[str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        problems.append("'defaults' must map record fields to fixed values")
        return ()
    defaults = []
    for name, value in raw.items():
        if name not in SCALAR_FIELDS or name == "record_id":
            problems.append(f"defaults: '{name}' cannot have a default (allowed: "
                            f"{', '.join(f for f in SCALAR_FIELDS if f != 'record_id')})")
        elif not isinstance(value, (str, int, float)) or not str(value).strip():
            problems.append(f"defaults: '{name}' must be a value")
        else:
            defaults.append((name, str(value).strip()))
    return tuple(defaults)


def _required(raw: Any, columns: dict[str, str], defaults: dict[str, str], has_body: bool,
              problems: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        problems.append("'required' must list record fields")
        return ()
    required = []
    for name in raw:
        if name not in FIELD_NAMES:
            problems.append(f"required: unknown record field '{name}'")
        elif name == "date" and not any(columns.get(f) for f in DATE_FALLBACKS):
            problems.append("required: 'date' needs a date column (date, received_date or "
                            "decided_date)")
        elif name == BODY_FIELD and not has_body:
            problems.append("required: 'body' needs body columns")
        elif name not in ("date", BODY_FIELD) and name not in columns and name not in defaults:
            problems.append(f"required: '{name}' is neither mapped to a column nor defaulted")
        elif name != "record_id":
            required.append(name)
    return tuple(required)


def _format(raw: Any, problems: list[str]) -> str | None:
    if raw in (None, AUTO):
        return None
    if raw not in FORMATS:
        problems.append(f"'format' must be auto or one of {', '.join(FORMATS)} (got {raw!r})")
        return None
    return raw


def _delimiter(raw: Any, problems: list[str]) -> str | None:
    if raw in (None, AUTO):
        return None
    value = DELIMITER_NAMES.get(str(raw).lower(), raw) if isinstance(raw, str) else raw
    if not isinstance(value, str) or len(value) != 1 or value in "\"\r\n":
        problems.append(f"csv.delimiter must be auto or one character such as ',', ';', "
                        f"'\\t' or 'tab' (got {raw!r})")
        return None
    return value


def _encoding(raw: Any, problems: list[str]) -> str | None:
    if raw in (None, AUTO):
        return None
    try:
        return codecs.lookup(str(raw)).name
    except LookupError:
        problems.append(f"csv.encoding: unknown encoding {raw!r}")
        return None


def _optional_text(section: dict[str, Any], key: str, where: str,
                   problems: list[str]) -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, (str, int)) or not str(value).strip():
        problems.append(f"{where} must be a name")
        return None
    return str(value).strip()


def _date_formats(raw: Any, problems: list[str]) -> tuple[str, ...]:
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not all(isinstance(v, str) and "%" in v
                                               for v in values):
        problems.append("dates.formats must list strptime formats such as '%d/%m/%Y %H:%M'")
        return ()
    return tuple(values)


def _flag(section: dict[str, Any], key: str, default: bool, where: str,
          problems: list[str]) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        problems.append(f"{where} must be true or false (got {value!r})")
        return default
    return value


def _timezone(raw: Any, problems: list[str]) -> str:
    try:
        ZoneInfo(str(raw))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"dates.timezone: unknown time zone {raw!r} (e.g. Europe/London, UTC)")
        return "UTC"
    return str(raw)
