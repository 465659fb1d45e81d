"""Case-management exports as rows: CSV (any delimiter and encoding), JSON, JSONL and XLSX.

`open_export` detects what the mapping leaves to detection (format, encoding, delimiter) and
returns an `Export` whose `rows()` yields every row of the file exactly once, numbered as a
reviewer would find it:

- CSV and XLSX: the spreadsheet row, the header being row 1 (a quoted cell spanning several
  lines is one row, as a spreadsheet shows it); locator 'row N';
- JSONL: the line; locator 'line N';
- JSON: the record's position in the array, from 1; locator 'record N'.

Entirely empty rows (blank lines, a sheet's formatted but empty rows) hold nothing and are not
rows. A row that cannot be read as one (wrong column count, invalid JSON, not an object) is
still yielded, with its problem, so that it becomes a reject: nothing is dropped. A file that
cannot be read at all raises RecordExportError.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from pipeline.cms.mapping import RecordMapping
from pipeline.errors import RecordExportError

HEAD_BYTES = 4096
CHUNK_BYTES = 1 << 20
SNIFF_CHARS = 1 << 16
CHARSET_SAMPLE_BYTES = 1 << 18
CSV_FIELD_LIMIT = 1 << 27   # notes can be long; the default 128 KiB would fail such rows
DELIMITER_CANDIDATES = ",;\t|"
# Exports from Windows systems in Western Europe are overwhelmingly Windows-1252; short samples
# are ambiguous between it and its cousins (cp1250, mac_roman…), so it wins whenever the
# detector finds it plausible at all. Other scripts (Cyrillic, Greek…) still get their own.
PREFERRED_SINGLE_BYTE = "cp1252"
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))
EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".tab": "csv", ".txt": "csv", ".json": "json",
              ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx", ".xlsm": "xlsx"}
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"

# Reasons a row cannot be read as a row; normalise adds the reasons about its values.
WRONG_COLUMN_COUNT = "wrong_column_count"
UNREADABLE_ROW = "unreadable_row"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"


@dataclass(frozen=True)
class RawRow:
    """One row as read: its values by column, or the reason it could not be read."""

    number: int
    locator: str
    values: dict[str, Any] | None = None
    problem: str | None = None
    detail: str | None = None
    raw: str | None = None          # the row's text, kept on its reject


@dataclass(frozen=True)
class Export:
    path: str
    format: str
    columns: tuple[str, ...]        # the header (CSV, XLSX); () where each record has its own
    rows: Callable[[], Iterator[RawRow]]
    encoding: str | None = None
    delimiter: str | None = None
    warnings: tuple[str, ...] = field(default=())


def open_export(path: str, mapping: RecordMapping) -> Export:
    """The export at `path`, read as `mapping` says. Raises RecordExportError if unreadable."""
    try:
        export_format = detect_format(path, mapping.format)
        if export_format == "csv":
            return _csv_export(path, mapping)
        if export_format == "xlsx":
            return _xlsx_export(path, mapping)
        if export_format == "jsonl":
            return _jsonl_export(path, mapping)
        return _json_export(path, mapping)
    except OSError as exc:
        raise RecordExportError(f"cannot read {path}: {exc}") from exc


def count_rows(path: str, mapping: RecordMapping) -> tuple[str, int]:
    """(format, rows read): the tally a file's records and rejects must add up to."""
    export = open_export(path, mapping)
    return export.format, sum(1 for _ in export.rows())


# --- detection -------------------------------------------------------------------------------

def _head(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def detect_format(path: str, declared: str | None = None) -> str:
    """The mapping's format, else what the content says, else the extension, else CSV."""
    if declared:
        return declared
    head = _head(path)
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if head.startswith(OLE_MAGIC):
        raise RecordExportError(f"{path} is a legacy binary Excel (.xls) or other OLE file: "
                                f"save it as .xlsx or CSV")
    by_extension = EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if by_extension == "jsonl":
        return "jsonl"
    if _text_head(head).lstrip().startswith(("[", "{")):
        return "jsonl" if _is_json_lines(path) else "json"
    # Not JSON nor a workbook by its content: a .json/.xlsx name then gets that reader's
    # own, precise complaint; anything else is read as delimited text.
    return by_extension or "csv"


def _text_head(head: bytes) -> str:
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return head.decode(encoding, errors="ignore")
    return head.decode("utf-8", errors="ignore")


def _is_json_lines(path: str) -> bool:
    """A first line that is a whole JSON value, followed by more lines: JSON Lines."""
    lines: list[bytes] = []
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                lines.append(line)
                if len(lines) == 2:
                    break
    if len(lines) < 2:
        return False
    try:
        json.loads(lines[0].decode("utf-8-sig", errors="replace"))
    except ValueError:
        return False
    return True


def detect_encoding(path: str, declared: str | None = None) -> tuple[str, tuple[str, ...]]:
    """(encoding, warnings): the declared one, a BOM's, UTF-8, or the detected charset."""
    if declared:
        return declared, () if _decodes(path, declared) else (
            f"invalid bytes for charset: {declared}",)
    head = _head(path)
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding, () if _decodes(path, encoding) else (
                f"invalid bytes for charset: {encoding}",)
    if _decodes(path, "utf-8"):
        return "utf-8", ()
    encoding = _guess_charset(_non_ascii_sample(path))
    warnings = [f"guessed charset: {encoding}"]
    if not _decodes(path, encoding):
        warnings.append(f"invalid bytes for charset: {encoding}")
    return encoding, tuple(warnings)


def _decode_errors(warnings: tuple[str, ...]) -> str:
    """Strict decoding unless the file is known to hold bytes its charset cannot decode."""
    return "replace" if any(w.startswith("invalid bytes") for w in warnings) else "strict"


def _decodes(path: str, encoding: str) -> bool:
    """Does the whole file decode strictly? Streamed, so any size fits."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _non_ascii_sample(path: str) -> bytes:
    """The lines that hold non-ASCII bytes: what tells one charset from another."""
    sample = bytearray()
    with open(path, "rb") as handle:
        for line in handle:
            if any(byte >= 0x80 for byte in line):
                sample += line
                if len(sample) >= CHARSET_SAMPLE_BYTES:
                    break
    return bytes(sample)


def _guess_charset(sample: bytes) -> str:
    from charset_normalizer import from_bytes

    if from_bytes(sample, cp_isolation=[PREFERRED_SINGLE_BYTE]).best() is not None:
        return PREFERRED_SINGLE_BYTE
    best = from_bytes(sample).best()
    return best.encoding if best is not None else PREFERRED_SINGLE_BYTE


def detect_delimiter(sample: str, declared: str | None = None) -> str:
    """The delimiter the header uses most; csv.Sniffer settles a header that cannot tell."""
    if declared:
        return declared
    header = sample.split("\n", 1)[0]
    counts = {candidate: header.count(candidate) for candidate in DELIMITER_CANDIDATES}
    ranked = sorted(counts.values(), reverse=True)
    if ranked[0] > 0 and ranked[0] != ranked[1]:
        return max(counts, key=counts.__getitem__)
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITER_CANDIDATES).delimiter
    except csv.Error:
        return ","


# --- CSV -------------------------------------------------------------------------------------

def _csv_export(path: str, mapping: RecordMapping) -> Export:
    encoding, warnings = detect_encoding(path, mapping.encoding)
    errors = _decode_errors(warnings)
    with open(path, encoding=encoding, errors=errors, newline="") as handle:
        sample = handle.read(SNIFF_CHARS)
    delimiter = detect_delimiter(sample, mapping.delimiter)
    header = _csv_header(path, encoding, errors, delimiter)

    def rows() -> Iterator[RawRow]:
        with open(path, encoding=encoding, errors=errors, newline="") as handle:
            yield from _csv_rows(handle, delimiter, header)

    return Export(path, "csv", header, rows, encoding, delimiter, warnings)


def _csv_reader(handle: io.TextIOBase, delimiter: str) -> Any:
    csv.field_size_limit(CSV_FIELD_LIMIT)
    return csv.reader(handle, delimiter=delimiter, quotechar='"', doublequote=True,
                      strict=False)


def _csv_header(path: str, encoding: str, errors: str, delimiter: str) -> tuple[str, ...]:
    with open(path, encoding=encoding, errors=errors, newline="") as handle:
        for cells in _csv_reader(handle, delimiter):
            if any(cell.strip() for cell in cells):
                return unique_columns(cells)
    return ()


def _csv_rows(handle: io.TextIOBase, delimiter: str,
              header: tuple[str, ...]) -> Iterator[RawRow]:
    reader = _csv_reader(handle, delimiter)
    number, seen_header = 0, False
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # one malformed row, e.g. an over-long field: reject it
            number += 1
            yield RawRow(number, f"row {number}", problem=UNREADABLE_ROW,
                         detail=f"line {reader.line_num}: {exc}")
            continue
        number += 1
        if not any(cell.strip() for cell in cells):
            continue
        if not seen_header:
            seen_header = True
            continue
        yield _csv_row(number, cells, header, delimiter)


def _csv_row(number: int, cells: list[str], header: tuple[str, ...],
             delimiter: str) -> RawRow:
    # Trailing empty cells (a trailing delimiter) hold nothing; any other surplus or shortfall
    # means the columns are shifted, so no value can be trusted to be in its column.
    while len(cells) > len(header) and not cells[-1].strip():
        cells = cells[:-1]
    if len(cells) != len(header):
        return RawRow(number, f"row {number}", problem=WRONG_COLUMN_COUNT,
                      detail=f"{len(cells)} cell(s) where the header has {len(header)}",
                      raw=_csv_text(cells, delimiter))
    return RawRow(number, f"row {number}", values=dict(zip(header, cells)))


def _csv_text(cells: list[str], delimiter: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="").writerow(cells)
    return buffer.getvalue()


def unique_columns(names: Any) -> tuple[str, ...]:
    """Header names made usable: stripped, blanks named by position, repeats numbered."""
    columns: list[str] = []
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        column = " ".join(str(name).split()) if name is not None else ""
        column = column or f"column {position}"
        base, repeat = column, 2
        while column.casefold() in seen:
            column, repeat = f"{base} ({repeat})", repeat + 1
        seen.add(column.casefold())
        columns.append(column)
    return tuple(columns)


# --- XLSX ------------------------------------------------------------------------------------

def _xlsx_export(path: str, mapping: RecordMapping) -> Export:
    header = _xlsx_header(path, mapping.sheet)

    def rows() -> Iterator[RawRow]:
        yield from _xlsx_rows(path, mapping.sheet, header)

    return Export(path, "xlsx", header, rows)


def _xlsx_sheet_rows(path: str, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
    """(sheet row number, cell values) of every row that holds something."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, OSError, EOFError) as exc:
        raise RecordExportError(f"{path} is not a readable XLSX workbook: {exc}") from exc
    except Exception as exc:  # zipfile.BadZipFile and friends from a damaged file
        raise RecordExportError(f"{path} is not a readable XLSX workbook: "
                                f"{type(exc).__name__}: {exc}") from exc
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise RecordExportError(f"{path} has no sheet {sheet!r} (sheets: "
                                    f"{', '.join(workbook.sheetnames)})")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        # Stored dimensions can be wrong; without them every stored row is read.
        worksheet.reset_dimensions()
        for cells in worksheet.iter_rows():
            number = next((cell.row for cell in cells if getattr(cell, "row", None)), None)
            values = [getattr(cell, "value", None) for cell in cells]
            if number is not None and any(_filled(value) for value in values):
                yield number, values
    finally:
        workbook.close()


def _filled(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _xlsx_header(path: str, sheet: str | None) -> tuple[str, ...]:
    for _, values in _xlsx_sheet_rows(path, sheet):
        return unique_columns(values)
    return ()


def _xlsx_rows(path: str, sheet: str | None, header: tuple[str, ...]) -> Iterator[RawRow]:
    from openpyxl.utils import get_column_letter

    rows = _xlsx_sheet_rows(path, sheet)
    next(rows, None)  # the header
    for number, values in rows:
        # A sheet's columns cannot shift, so a value beyond the header is kept, named by
        # its column letter, rather than rejected.
        columns = list(header) + [f"column {get_column_letter(position)}"
                                  for position in range(len(header) + 1, len(values) + 1)]
        yield RawRow(number, f"row {number}",
                     values={column: value for column, value in zip(columns, values)})


# --- JSON and JSONL --------------------------------------------------------------------------

def _json_export(path: str, mapping: RecordMapping) -> Export:
    encoding, warnings = detect_encoding(path, None)
    with open(path, encoding=encoding, errors=_decode_errors(warnings)) as handle:
        text = handle.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordExportError(f"{path} is not valid JSON: {exc}") from exc
    records = _records_in(document, mapping.records_key, path)

    def rows() -> Iterator[RawRow]:
        for number, element in enumerate(records, start=1):
            yield _json_row(number, f"record {number}", element)

    return Export(path, "json", (), rows, encoding, None, warnings)


def _records_in(document: Any, key: str | None, path: str) -> list[Any]:
    """The array of records: the document itself, under `key`, or its only array."""
    if key:
        found = document
        for part in key.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if not isinstance(found, list):
            raise RecordExportError(f"{path}: no array of records under {key!r}")
        return found
    if isinstance(document, list):
        return document
    arrays = [value for value in document.values() if isinstance(value, list)] \
        if isinstance(document, dict) else []
    if len(arrays) != 1:
        raise RecordExportError(f"{path}: the JSON document is not an array of records; name "
                                f"the key that holds them in the mapping (json: records:)")
    return arrays[0]


def _jsonl_export(path: str, mapping: RecordMapping) -> Export:
    encoding, warnings = detect_encoding(path, None)
    errors = _decode_errors(warnings)

    def rows() -> Iterator[RawRow]:
        with open(path, encoding=encoding, errors=errors, newline=None) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    element = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield RawRow(number, f"line {number}", problem=INVALID_JSON,
                                 detail=str(exc), raw=line.rstrip("\r\n"))
                    continue
                yield _json_row(number, f"line {number}", element, line.rstrip("\r\n"))

    return Export(path, "jsonl", (), rows, encoding, None, warnings)


def _json_row(number: int, locator: str, element: Any, raw: str | None = None) -> RawRow:
    if not isinstance(element, dict):
        return RawRow(number, locator, problem=NOT_AN_OBJECT,
                      detail=f"a JSON {type(element).__name__}, not an object",
                      raw=raw if raw is not None else json.dumps(element, ensure_ascii=False))
    return RawRow(number, locator, values=flatten(element))


def flatten(element: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted columns: {"officer": {"name": …}} -> 'officer.name'."""
    values: dict[str, Any] = {}
    for key, value in element.items():
        column = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            values.update(flatten(value, f"{column}."))
        else:
            values[column] = value
    return values
