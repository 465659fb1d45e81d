"""Synthetic exports of a professional-standards department's case-management system.

Seeded and deterministic: the same seed writes byte-identical files. Each case has a complaint,
its allegations, an investigation, a decision by the appropriate authority and decision-log
entries whose free-text notes mention officers. Some officers are the case's custodians (by
default the demo's, named after the SpamAssassin folders), written the ways exports write
people: full name, rank and collar number, alias, email address, bare collar number. Rows
that must be rejected are written on purpose, one or more per reason.

The records are split over three exports in three styles, all read by one mapping
(conf/records/psd-cms.yaml):

- cases.csv: complaints and allegations; Windows-1252, semicolons, UK dates, multi-line notes;
- decisions.jsonl: investigations and decisions; UTF-8, ISO 8601 dates with offsets;
- decision-log.xlsx: decision-log entries; date cells in local time, some dates as text.

The generator keeps its own truth (`ExportTruth`): rows written per file, the row number and
reason of every bad row, and for every good record the custodians it names and its UTC date,
so tests compare the pipeline's output with what was written, not with itself.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from pipeline.config import PACKAGE_ROOT

SYSTEM = "psd-cms"
MAPPING_PATH = PACKAGE_ROOT / "conf" / "records" / f"{SYSTEM}.yaml"
LONDON = ZoneInfo("Europe/London")
FIXED_TIME = datetime(2024, 1, 1)   # the workbook's own timestamps: fixed, for identical bytes
COLUMNS = ("Record ID", "Case Ref", "Record Type", "Status", "Title", "Date Logged",
           "Date Received", "Decision Date", "Subject Officer", "Complainant", "Investigator",
           "Appropriate Authority", "Reviewers", "Outcome", "Summary", "Notes", "Location",
           "Allegation Category", "Severity")
# Columns the mapping does not name: they must come out as extra fields.
EXTRA_COLUMNS = ("Location", "Allegation Category", "Severity")
FILE_NAMES = {"csv": "cases.csv", "jsonl": "decisions.jsonl", "xlsx": "decision-log.xlsx"}
TABLE_OF = {"Complaint": "csv", "Allegation": "csv", "Investigation": "jsonl",
            "Decision": "jsonl", "Decision Log": "xlsx"}


@dataclass(frozen=True)
class Officer:
    name: str
    staff_id: str
    email: str
    alias: str | None = None
    custodian: bool = False


DEMO_OFFICERS = (
    Officer("Easy Ham 1", "PC 4101", "easy.ham1@psd.example.org", "E. Ham 1", True),
    Officer("Easy Ham 2", "DS 3207", "easy.ham2@psd.example.org", "E. Ham 2", True),
    Officer("Hard Ham 1", "Insp 2290", "hard.ham1@psd.example.org", "H. Ham 1", True),
    Officer("Spam 1", "PS 1188", "spam1@psd.example.org", "Spam One", True),
    Officer("Spam 2", "DC 5012", "spam2@psd.example.org", "Spam Two", True),
)
OTHER_OFFICERS = (
    Officer("Tom Baxter", "PC 5521", "tom.baxter@force.example.org"),
    Officer("Priya Natarajan", "DC 6610", "priya.natarajan@force.example.org"),
    Officer("Gareth Lloyd", "DS 7734", "gareth.lloyd@force.example.org"),
    Officer("Helen Okafor", "Supt 0931", "helen.okafor@force.example.org"),
    Officer("Marcus Reid", "PC 8802", "marcus.reid@force.example.org"),
)
COMPLAINANTS = ("Mrs Joan Whitfield", "Mr Daniel Achterberg", "Ms Aisha Rahman",
                "Mr Kwame Mensah", "Mrs Zoë Brontë-Hale", "Mr Seán O'Connor",
                "Ms Agnès Dubois", "Mr Ravi Chandrasekar")  # all in Windows-1252
CATEGORIES = ("Use of force", "Discriminatory behaviour", "Discreditable conduct",
              "Honesty and integrity", "Duties and responsibilities", "Confidentiality")
LOCATIONS = ("Central custody suite", "Northgate station", "A38 lay-by near Brampton",
             "Market Square", "Riverside retail park", "Complainant's home address")
OUTCOMES = ("No case to answer", "Case to answer – misconduct meeting",
            "Case to answer – gross misconduct hearing", "Practice requiring improvement",
            "No further action")
STATUSES = ("Open", "Under investigation", "Awaiting decision", "Closed")
FINDINGS = ("Body-worn video shows the stop lasted eleven minutes.",
            "The custody record and the CCTV do not agree on the time of arrival.",
            "Two witnesses say the officer swore at the complainant.",
            "The complainant was charged £60 for a copy of the report – café receipts attached.",
            "No record of the search was made on the day.",
            "The officer's pocket notebook entry was written the following morning.")


@dataclass
class FileTruth:
    path: str
    format: str
    rows: int = 0                                          # data rows written
    records: int = 0
    rejects: dict[int, str] = field(default_factory=dict)  # row number -> reason


@dataclass
class ExportTruth:
    files: dict[str, FileTruth] = field(default_factory=dict)       # by format
    links: dict[str, list[str]] = field(default_factory=dict)       # record id -> custodians
    first_custodian: dict[str, str | None] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)             # record id -> UTC ISO
    extra_fields: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class GeneratedExports:
    directory: Path
    files: dict[str, Path]
    truth: ExportTruth
    system: str = SYSTEM
    mapping: Path = MAPPING_PATH


@dataclass
class Record:
    """One record before it is written: logical values (aware datetimes for dates)."""

    values: dict[str, Any]
    custodians: list[str]
    first_custodian: str | None
    timeline: datetime                       # Date Logged
    date_only: bool = False                  # written without a time: 00:00 UTC that day

    @property
    def record_id(self) -> str:
        return self.values["Record ID"]


# --- people --------------------------------------------------------------------------------

class Cast:
    """Picks people and writes them as exports do, remembering which custodians it wrote."""

    def __init__(self, rng: random.Random, officers: tuple[Officer, ...]):
        self.rng = rng
        self.custodians = tuple(o for o in officers if o.custodian)
        self.others = tuple(o for o in officers if not o.custodian) or OTHER_OFFICERS
        self.manifest_order = {o.name: index for index, o in enumerate(self.custodians)}

    def linked(self) -> "Linked":
        return Linked(self.manifest_order)

    def officer(self, custodian_chance: float = 0.6) -> Officer:
        if self.custodians and self.rng.random() < custodian_chance:
            return self.rng.choice(self.custodians)
        return self.rng.choice(self.others)

    def written(self, officer: Officer) -> str:
        """One way an export writes an officer in a people column."""
        forms = [officer.name, f"{officer.staff_id} {officer.name}", officer.email,
                 f"{officer.name} <{officer.email}>", officer.staff_id.replace(" ", "")]
        if officer.alias:
            forms.append(officer.alias)
        return self.rng.choice(forms)

    def mentioned(self, officer: Officer) -> str:
        """One way free text mentions an officer."""
        forms = [officer.name, officer.staff_id.replace(" ", ""), officer.email,
                 f"{officer.staff_id} {officer.name}"]
        if officer.alias:
            forms.append(officer.alias)
        return self.rng.choice(forms)


class Linked:
    """The custodians a record names, in the order the pipeline links them."""

    def __init__(self, manifest_order: dict[str, int]) -> None:
        self.manifest_order = manifest_order
        self.in_people: list[str] = []
        self.in_text: list[str] = []

    def person(self, officer: Officer) -> None:
        if officer.custodian and officer.name not in self.in_people:
            self.in_people.append(officer.name)

    def text(self, officer: Officer) -> None:
        if officer.custodian and officer.name not in self.in_text:
            self.in_text.append(officer.name)

    def all(self) -> list[str]:
        return list(dict.fromkeys(self.in_people + self.in_text))

    def first(self) -> str | None:
        """People columns link first, in column order; text mentions in manifest order."""
        if self.in_people:
            return self.in_people[0]
        mentioned = sorted(self.in_text, key=self.manifest_order.__getitem__)
        return mentioned[0] if mentioned else None


# --- records ---------------------------------------------------------------------------------

def _moment(rng: random.Random, start: datetime, days: tuple[int, int]) -> datetime:
    """A London working-hours time some days after `start` (aware, minute resolution)."""
    day = (start + timedelta(days=rng.randint(*days))).date()
    local = datetime(day.year, day.month, day.day, rng.randint(8, 18), rng.choice((0, 15, 30,
                                                                                   45)))
    return local.replace(tzinfo=LONDON)


def _note(rng: random.Random, cast: Cast, linked: Linked, lines: int = 2) -> str:
    sentences = []
    for _ in range(lines):
        officer = cast.officer()
        linked.text(officer)
        sentences.append(rng.choice((
            f"Spoke to {cast.mentioned(officer)} about the timeline.",
            f"Statement requested from {cast.mentioned(officer)} by Friday.",
            f"{cast.mentioned(officer)} confirmed the custody times.",
            f"Email from {cast.mentioned(officer)} forwarded to the file.")))
    return " ".join(sentences)


def _blank_record(record_id: str, case_ref: str, record_type: str) -> dict[str, Any]:
    values: dict[str, Any] = {column: None for column in COLUMNS}
    values.update({"Record ID": record_id, "Case Ref": case_ref, "Record Type": record_type})
    return values


def _people_cell(cast: Cast, linked: Linked, officers: list[Officer]) -> str:
    for officer in officers:
        linked.person(officer)
    return "; ".join(cast.written(officer) for officer in officers)


def _case_records(rng: random.Random, cast: Cast, number: int) -> list[Record]:
    year = 2021 + number % 3
    case_ref = f"PSD/{year}/{number:04d}"
    received = _moment(rng, datetime(year, 1, 4, tzinfo=LONDON), (0, 300))
    subject_officers = [cast.officer(0.7)] + ([cast.officer()] if rng.random() < 0.3 else [])
    complainant = rng.choice(COMPLAINANTS)
    category = rng.choice(CATEGORIES)
    location = rng.choice(LOCATIONS)
    records = [_complaint(rng, cast, case_ref, number, received, subject_officers,
                          complainant, category, location)]
    for index in range(1, rng.randint(1, 3) + 1):
        records.append(_allegation(rng, cast, case_ref, number, index, received,
                                   subject_officers, complainant))
    investigator = cast.officer(0.5)
    records.append(_investigation(rng, cast, case_ref, number, received, investigator))
    authority = cast.officer(0.4)
    records.append(_decision(rng, cast, case_ref, number, received, authority,
                             subject_officers))
    for index in range(1, rng.randint(1, 3) + 1):
        records.append(_log_entry(rng, cast, case_ref, number, index, received))
    return records


def _complaint(rng: random.Random, cast: Cast, case_ref: str, number: int, received: datetime,
               officers: list[Officer], complainant: str, category: str,
               location: str) -> Record:
    linked = cast.linked()
    values = _blank_record(f"CO-{number:04d}", case_ref, "Complaint")
    values.update({
        "Status": rng.choice(STATUSES), "Title": f"{category} complaint at {location}",
        "Date Logged": received, "Date Received": received,
        "Subject Officer": _people_cell(cast, linked, officers), "Complainant": complainant,
        "Summary": f"{complainant} complains of {category.lower()} at {location}. "
                   f"{rng.choice(FINDINGS)}",
        "Notes": f"Logged by the PSD triage desk.\n{_note(rng, cast, linked, 1)}",
        "Location": location, "Allegation Category": category,
        "Severity": str(rng.randint(1, 4))})
    return Record(values, linked.all(), linked.first(), received)


def _allegation(rng: random.Random, cast: Cast, case_ref: str, number: int, index: int,
                received: datetime, officers: list[Officer], complainant: str) -> Record:
    linked = cast.linked()
    logged = _moment(rng, received, (0, 5))
    category = rng.choice(CATEGORIES)
    values = _blank_record(f"AL-{number:04d}-{index}", case_ref, "Allegation")
    values.update({
        "Status": rng.choice(STATUSES), "Title": f"Allegation {index}: {category}",
        "Date Logged": logged, "Date Received": received,
        "Subject Officer": _people_cell(cast, linked, [rng.choice(officers)]),
        "Complainant": complainant,
        "Summary": f"It is alleged that the officer's conduct amounted to "
                   f"{category.lower()}.",
        "Allegation Category": category, "Severity": str(rng.randint(1, 4))})
    return Record(values, linked.all(), linked.first(), logged)


def _investigation(rng: random.Random, cast: Cast, case_ref: str, number: int,
                   received: datetime, investigator: Officer) -> Record:
    linked = cast.linked()
    logged = _moment(rng, received, (10, 60))
    values = _blank_record(f"IN-{number:04d}", case_ref, "Investigation")
    values.update({
        "Status": rng.choice(STATUSES), "Title": "Investigation report",
        "Date Logged": logged, "Date Received": received,
        "Investigator": _people_cell(cast, linked, [investigator]),
        "Summary": f"Report of the investigation. {rng.choice(FINDINGS)}",
        "Notes": _note(rng, cast, linked)})
    return Record(values, linked.all(), linked.first(), logged)


def _decision(rng: random.Random, cast: Cast, case_ref: str, number: int, received: datetime,
              authority: Officer, officers: list[Officer]) -> Record:
    linked = cast.linked()
    decided = _moment(rng, received, (61, 180))
    values = _blank_record(f"DE-{number:04d}", case_ref, "Decision")
    values.update({
        "Status": "Closed", "Title": "Decision of the appropriate authority",
        "Date Logged": decided, "Date Received": received, "Decision Date": decided,
        "Subject Officer": _people_cell(cast, linked, officers[:1]),
        "Appropriate Authority": _people_cell(cast, linked, [authority]),
        "Outcome": rng.choice(OUTCOMES),
        "Summary": "The appropriate authority considered the investigation report."})
    return Record(values, linked.all(), linked.first(), decided)


def _log_entry(rng: random.Random, cast: Cast, case_ref: str, number: int, index: int,
               received: datetime) -> Record:
    linked = cast.linked()
    logged = _moment(rng, received, (1, 120))
    reviewers = [cast.officer(0.5) for _ in range(rng.randint(1, 2))]
    values = _blank_record(f"DL-{number:04d}-{index}", case_ref, "Decision Log")
    values.update({
        "Status": rng.choice(STATUSES), "Title": f"Decision log entry {index}",
        "Date Logged": logged, "Reviewers": _people_cell(cast, linked, reviewers),
        "Notes": _note(rng, cast, linked, rng.randint(1, 3)),
        "Severity": rng.randint(1, 4)})
    return Record(values, linked.all(), linked.first(), logged)


# --- writing ---------------------------------------------------------------------------------

@dataclass
class Row:
    """A row as one file writes it: its cells, or its raw text; and its reject reason."""

    cells: dict[str, Any] | None
    raw: str | None = None
    reason: str | None = None
    record: Record | None = None


def _uk(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%d/%m/%Y %H:%M")


def _iso(rng: random.Random, moment: datetime) -> str:
    if rng.random() < 0.3:
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.astimezone(LONDON).isoformat()


def _cells(record: Record, date_text: Callable[[datetime], Any]) -> dict[str, Any]:
    return {column: (date_text(value) if isinstance(value, datetime) else value)
            for column, value in record.values.items()}


def _bad_rows(rng: random.Random, good: list[Record], date_text: Callable[[datetime], Any],
              kinds: Iterable[str]) -> list[Row]:
    """Rows that must be rejected, each built from a real record and broken one way."""
    rows = []
    for kind in kinds:
        source = rng.choice(good)
        cells = _cells(source, date_text)
        if kind == "missing_id":
            cells["Record ID"] = ""
        elif kind == "unparseable_date":
            cells["Date Logged"] = rng.choice(("31/02/2021", "next Tuesday", "TBC", "2021-13-45"))
        elif kind == "missing_case_ref":
            cells["Case Ref"] = ""
            cells["Record ID"] = source.record_id + "-X"
        elif kind == "missing_date":
            for column in ("Date Logged", "Date Received", "Decision Date"):
                cells[column] = None
            cells["Record ID"] = source.record_id + "-N"
        elif kind == "duplicate_id":
            cells["Summary"] = "Re-keyed by mistake: this row repeats an existing record id."
        rows.append(Row(cells, reason=kind))
    return rows


def _interleave(rng: random.Random, good: list[Row], bad: list[Row]) -> list[Row]:
    """Bad rows at seeded positions, each after the record it was built from when it repeats
    that record's id (a duplicate must come second to be the one rejected)."""
    rows = list(good)
    for row in bad:
        earliest = 0
        if row.reason == "duplicate_id":
            earliest = next(i for i, r in enumerate(rows)
                            if r.cells and r.reason is None
                            and r.cells["Record ID"] == row.cells["Record ID"]) + 1
        rows.insert(rng.randint(earliest, len(rows)), row)
    return rows


def _write_csv(path: Path, rows: list[Row], encoding: str, delimiter: str,
               truth: FileTruth) -> None:
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        number = 1
        for index, row in enumerate(rows):
            if index == len(rows) // 2:
                handle.write("\r\n")  # a blank line: not a row, but a spreadsheet counts it
                number += 1
            number += 1
            if row.raw is not None:
                handle.write(row.raw + "\r\n")
            else:
                writer.writerow(["" if row.cells[c] is None else row.cells[c] for c in COLUMNS])
            _tally(truth, number, row)


def _shifted_csv_row(record: Record, delimiter: str) -> str:
    """A row whose free text holds an unquoted delimiter: one cell too many."""
    cells = ["" if v is None else str(v) for v in _cells(record, _uk).values()]
    cells = [" ".join(c.replace(delimiter, ",").replace('"', "'").split()) for c in cells]
    cells[COLUMNS.index("Summary")] = f"Complainant withdrew{delimiter} then re-engaged"
    return delimiter.join(cells)


def _write_jsonl(path: Path, rows: list[Row], truth: FileTruth) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for number, row in enumerate(rows, start=1):
            if row.raw is not None:
                handle.write(row.raw + "\n")
            else:
                cells = {column: value for column, value in row.cells.items()
                         if value not in (None, "")}
                handle.write(json.dumps(cells, ensure_ascii=False) + "\n")
            _tally(truth, number, row)


def _write_xlsx(path: Path, rows: list[Row], truth: FileTruth) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Decision log"
    sheet.append(list(COLUMNS))
    for number, row in enumerate(rows, start=2):
        sheet.append([row.cells[column] for column in COLUMNS])
        _tally(truth, number, row)
    workbook.properties.created = FIXED_TIME
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(_stable_zip(buffer.getvalue()))


def _stable_zip(data: bytes) -> bytes:
    """The workbook with fixed times (its 'modified' property, its zip entries' dates), so the
    same seed writes a byte-identical file."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<2>", content)
            info = zipfile.ZipInfo(entry.filename, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, content)
    return output.getvalue()


def _tally(truth: FileTruth, number: int, row: Row) -> None:
    truth.rows += 1
    if row.reason:
        truth.rejects[number] = row.reason
    else:
        truth.records += 1


def _xlsx_date(moment: datetime) -> datetime:
    """A date cell holds local time without a zone, as a spreadsheet does."""
    return moment.astimezone(LONDON).replace(tzinfo=None)


# --- the entry point -------------------------------------------------------------------------

def generate_exports(directory: str | Path, *, seed: int = 20240501, cases: int = 12,
                     officers: tuple[Officer, ...] = DEMO_OFFICERS + OTHER_OFFICERS,
                     csv_encoding: str = "cp1252", csv_delimiter: str = ";") -> GeneratedExports:
    """Write cases.csv, decisions.jsonl and decision-log.xlsx under `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    cast = Cast(rng, officers)
    records = [record for number in range(1, cases + 1)
               for record in _case_records(rng, cast, number)]
    by_table: dict[str, list[Record]] = {table: [] for table in FILE_NAMES}
    for record in records:
        by_table[TABLE_OF[record.values["Record Type"]]].append(record)
    truth = ExportTruth()
    files = {table: directory / name for table, name in FILE_NAMES.items()}
    _write_cases_csv(rng, by_table["csv"], files["csv"], csv_encoding, csv_delimiter, truth)
    _write_decisions_jsonl(rng, by_table["jsonl"], files["jsonl"], truth)
    _write_log_xlsx(rng, by_table["xlsx"], files["xlsx"], truth)
    return GeneratedExports(directory, files, truth)


def _record_truth(truth: ExportTruth, record: Record, timeline: datetime) -> None:
    truth.links[record.record_id] = record.custodians
    truth.first_custodian[record.record_id] = record.first_custodian
    truth.dates[record.record_id] = timeline.astimezone(timezone.utc).isoformat()
    truth.extra_fields[record.record_id] = [
        f"{column}: {record.values[column]}" for column in EXTRA_COLUMNS
        if record.values.get(column) not in (None, "")]


def _write_cases_csv(rng: random.Random, records: list[Record], path: Path, encoding: str,
                     delimiter: str, truth: ExportTruth) -> None:
    good = [Row(_cells(record, _uk), record=record) for record in records]
    bad = _bad_rows(rng, records, _uk, ("missing_id", "unparseable_date", "missing_case_ref",
                                        "duplicate_id"))
    bad.append(Row(None, raw=_shifted_csv_row(rng.choice(records), delimiter),
                   reason="wrong_column_count"))
    rows = _interleave(rng, good, bad)
    file_truth = truth.files["csv"] = FileTruth(str(path), "csv")
    _write_csv(path, rows, encoding, delimiter, file_truth)
    for record in records:
        _record_truth(truth, record, record.timeline)


def _write_decisions_jsonl(rng: random.Random, records: list[Record], path: Path,
                           truth: ExportTruth) -> None:
    def iso(moment: datetime) -> str:
        return _iso(rng, moment)

    good = []
    for record in records:
        cells = _cells(record, iso)
        # A nested object, as JSON exports have: read as dotted extra fields.
        cells["Legacy Ref"] = {"system": "legacy import", "ref": f"L{rng.randint(1000, 9999)}"}
        good.append(Row(cells, record=record))
    bad = _bad_rows(rng, records, iso, ("unparseable_date", "missing_date", "missing_id"))
    bad.append(Row(None, raw='{"Record ID": "IN-9999", "Case Ref": "PSD/2021/9999", "Summ',
                   reason="invalid_json"))
    bad.append(Row(None, raw='["IN-9998", "PSD/2021/9998"]', reason="not_an_object"))
    rows = _interleave(rng, good, bad)
    file_truth = truth.files["jsonl"] = FileTruth(str(path), "jsonl")
    _write_jsonl(path, rows, file_truth)
    for row in good:
        _record_truth(truth, row.record, row.record.timeline)
        legacy = row.cells["Legacy Ref"]
        truth.extra_fields[row.record.record_id] += [
            f"Legacy Ref.ref: {legacy['ref']}", f"Legacy Ref.system: {legacy['system']}"]


def _write_log_xlsx(rng: random.Random, records: list[Record], path: Path,
                    truth: ExportTruth) -> None:
    as_cell = _xlsx_date
    good = []
    for record in records:
        cells = _cells(record, as_cell)
        timeline = record.timeline
        if rng.random() < 0.2:  # typed in as text, without a time: it stays on its day
            day = record.timeline.astimezone(LONDON).date()
            cells["Date Logged"] = day.strftime("%d %b %Y")
            timeline = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        good.append((Row(cells, record=record), timeline))
    bad = _bad_rows(rng, records, as_cell, ("missing_id", "unparseable_date",
                                            "missing_case_ref"))
    rows = _interleave(rng, [row for row, _ in good], bad)
    file_truth = truth.files["xlsx"] = FileTruth(str(path), "xlsx")
    _write_xlsx(path, rows, file_truth)
    for row, timeline in good:
        _record_truth(truth, row.record, timeline)


def custodian_identities(officers: Iterable[Officer] = DEMO_OFFICERS) -> list[dict[str, Any]]:
    """Manifest `sources` keys that let the pipeline link the generator's custodians."""
    return [{"custodian": o.name, "aliases": [o.alias] if o.alias else [],
             "emails": [o.email], "staff_ids": [o.staff_id]}
            for o in officers if o.custodian]


def manifest_records_entry(exports: GeneratedExports, base: Path | None = None) -> dict:
    """The manifest's `records` entry for the exports (paths relative to `base` if given)."""
    paths = [str(p.relative_to(base)) if base else str(p) for p in exports.files.values()]
    return {"system": exports.system, "paths": paths, "mapping": str(exports.mapping)}
