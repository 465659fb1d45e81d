"""Rows to record items and rejects: nothing lost, every bad row rejected with its reason."""

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.cms.generator import custodian_identities, generate_exports
from pipeline.cms.linking import CustodianLinker
from pipeline.cms.mapping import load_mapping, parse_mapping
from pipeline.cms.normalise import ExportFile, cell_text, export_items
from pipeline.manifest import parse_manifest
from pipeline.records import ITEM_FIELD_NAMES
from pipeline.schema import field_names

MAPPING = {
    "fields": {"record_id": "Ref", "case_ref": "Case", "record_type": "Type",
               "record_status": "Status", "outcome": "Outcome", "title": "Title",
               "received_date": "Received", "decided_date": "Decided",
               "body": ["Summary", "Notes"]},
    "people": [{"column": "Officer", "role": "subject officer", "split": ";"},
               {"column": "Complainant", "role": "complainant"}],
    "required": ["case_ref", "date"],
    "link_text": True,
}
HEADER = "Ref;Case;Type;Status;Title;Received;Decided;Officer;Complainant;Outcome;Summary;Notes;" \
         "Station;Risk"
ROWS = [
    # row 2: a good record naming two officers, one by staff number; notes mention a third
    'C1;PSD/1;Complaint;Open;Rude at the counter;14/07/2021 09:30;;"PC1234; Tom Baxter";'
    "Mrs Whitfield;;Shouted at.;Asked Bob Jones for his notes.;Northgate;high",
    # row 3: the same id again, with other content
    "C1;PSD/1;Complaint;Open;Again;14/07/2021 09:30;;;;;;;;",
    "C2;PSD/1;Allegation;Open;x;31/02/2021 10:00;;;;;;;;",              # row 4: bad date
    ";PSD/1;Allegation;Open;x;14/07/2021;;;;;;;;",                       # row 5: no id
    "C3;;Allegation;Open;x;14/07/2021;;;;;;;;",                          # row 6: no case
    "C4;PSD/1;Decision;Closed;x;;;;;;;;;",                               # row 7: no date
    "C5;PSD/1;Decision;Closed;x;14/07/2021;;;;;;;",                      # row 8: a cell short
    "C6;PSD/1;Decision;Closed;x;14/07/2021;soon;;;;;;;",                 # row 9: bad decided date
    "C7;PSD/1;Decision;Closed;Decided;01/07/2021;02/08/2021 16:00;Janey;;No case to answer;;;;",
]


@pytest.fixture
def linker(tmp_path):
    (tmp_path / "mail").mkdir()
    manifest = parse_manifest({"case": "c", "sources": [
        {"custodian": "Jane Smith", "paths": ["mail"], "aliases": ["Janey"],
         "staff_ids": ["PC 1234"]},
        {"custodian": "Bob Jones", "paths": ["mail"]}]}, tmp_path)
    return CustodianLinker.from_sources(manifest.sources)


def items_of(path: Path, linker, mapping=None, max_text_chars=10_000):
    export_file = ExportFile("c", "psd", str(path), parse_mapping(mapping or MAPPING))
    return list(export_items(export_file, linker, max_text_chars))


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes(("\n".join([HEADER] + ROWS) + "\n").encode("cp1252"))
    return path


def test_every_row_becomes_a_record_or_a_reject_with_its_reason(export, linker):
    items = items_of(export, linker)
    assert len(items) == len(ROWS)
    outcome = {item.source_locator: item.exception_reason or item.type for item in items}
    assert outcome == {
        "row 2": "record", "row 3": "reject:duplicate_id", "row 4": "reject:unparseable_date",
        "row 5": "reject:missing_id", "row 6": "reject:missing_case_ref",
        "row 7": "reject:missing_date", "row 8": "reject:wrong_column_count",
        "row 9": "reject:unparseable_date", "row 10": "record"}


def test_a_reject_says_where_and_why_and_keeps_the_row(export, linker):
    rejects = {item.source_locator: item for item in items_of(export, linker)
               if item.type == "exception"}
    duplicate = rejects["row 3"]
    assert duplicate.item_class == "rejected_row" and duplicate.record_system == "psd"
    assert duplicate.exception_message == (
        "cases.csv row 3: duplicate_id: record id 'C1' was already read at row 2")
    assert duplicate.record_id == "C1" and "Title: Again" in duplicate.body
    assert rejects["row 4"].exception_message == (
        "cases.csv row 4: unparseable_date: column 'Received' has '31/02/2021 10:00'")
    assert rejects["row 8"].body == "C5;PSD/1;Decision;Closed;x;14/07/2021;;;;;;;"
    assert rejects["row 8"].custodians == [] and rejects["row 8"].custodian is None


def test_every_problem_of_a_row_is_listed_the_first_is_its_reason(tmp_path, linker):
    path = tmp_path / "worse.csv"
    path.write_text(HEADER + "\n;;Allegation;Open;x;never;;;;;;;;\n")
    (reject,) = items_of(path, linker)
    assert reject.exception_reason == "reject:missing_id"
    assert reject.exception_message == (
        "worse.csv row 2: missing_id: column 'Ref' is empty; unparseable_date: column "
        "'Received' has 'never'; missing_case_ref: column 'Case' is empty")


def test_a_record_carries_its_fields_people_custodians_and_extra_columns(export, linker):
    record = items_of(export, linker)[0]
    assert (record.type, record.item_class, record.record_system) == ("record", "record", "psd")
    assert (record.record_id, record.case_ref, record.record_type) == ("C1", "PSD/1", "Complaint")
    assert record.record_status == "Open" and record.outcome is None
    assert record.subject == "Complaint C1 (PSD/1): Rude at the counter"
    assert record.people == ["subject officer: PC1234", "subject officer: Tom Baxter",
                             "complainant: Mrs Whitfield"]
    assert record.custodians == ["Jane Smith", "Bob Jones"]  # Bob only in the notes
    assert (record.custodian, record.custodian_id) == ("Jane Smith", "jane-smith")
    assert record.extra_fields == ["Station: Northgate", "Risk: high"]
    assert record.body == "Summary:\nShouted at.\n\nNotes:\nAsked Bob Jones for his notes."
    assert record.date.isoformat() == "2021-07-14T08:30:00+00:00"  # BST, from 'Received'
    assert record.date_original == "14/07/2021 09:30" and record.date_utc_offset_minutes == 60
    assert record.received_date == record.date and record.decided_date is None
    assert record.decode_warnings == []  # plain ASCII rows decode as UTF-8
    assert record.family_id == record.id and record.level == 0
    assert (record.source_format, record.source_locator) == ("csv", "row 2")


def test_decision_dates_and_outcomes(export, linker):
    decision = items_of(export, linker)[-1]
    assert decision.outcome == "No case to answer"
    assert decision.decided_date.isoformat() == "2021-08-02T15:00:00+00:00"
    assert decision.custodians == ["Jane Smith"]  # by alias


def test_ids_are_deterministic_and_follow_the_content(export, linker, tmp_path):
    first = [item.id for item in items_of(export, linker)]
    assert first == [item.id for item in items_of(export, linker)]
    assert len(set(first)) == len(first)
    changed = tmp_path / "changed.csv"
    changed.write_text(export.read_text(encoding="cp1252").replace("Shouted at.", "Yelled."))
    moved = [item.id for item in items_of(changed, linker)]
    assert moved[0] != first[0]


def test_without_unique_ids_a_repeated_id_is_a_record(export, linker):
    items = items_of(export, linker, dict(MAPPING, unique_ids=False))
    assert [item.type for item in items[:2]] == ["record", "record"]
    assert items[0].id != items[1].id


def test_defaults_fill_empty_cells(tmp_path, linker):
    path = tmp_path / "log.csv"
    path.write_text("Ref,Case,When\nL1,PSD/1,14/07/2021\n")
    mapping = {"fields": {"record_id": "Ref", "case_ref": "Case", "date": "When"},
               "defaults": {"record_type": "decision_log"}}
    (record,) = items_of(path, linker, mapping)
    assert record.record_type == "decision_log"
    assert record.subject == "Decision log L1 (PSD/1)"
    assert record.custodians == [] and record.custodian is None
    assert record.text_source == "none" and record.body is None


def test_long_free_text_is_cut_and_the_cut_recorded(tmp_path, linker):
    path = tmp_path / "long.csv"
    path.write_text("Ref,Summary\nL1," + "x" * 50 + "\n")
    (record,) = items_of(path, linker, {"fields": {"record_id": "Ref", "body": "Summary"}},
                         max_text_chars=20)
    assert record.body == "x" * 20
    assert record.decode_warnings == ["text truncated at 20 characters"]


def test_a_header_missing_mapped_columns_is_reported_once(tmp_path, linker):
    path = tmp_path / "partial.csv"
    path.write_text("Ref,Case\nA,PSD/1\n")
    items = items_of(path, linker, {"fields": {"record_id": "Ref", "case_ref": "Case",
                                               "outcome": "Outcome"}})
    assert [(item.type, item.exception_reason) for item in items] == [
        ("exception", "missing_columns"), ("record", None)]
    assert "'Outcome'" in items[0].exception_message


def test_an_unreadable_export_is_one_exception_for_the_file(tmp_path, linker):
    path = tmp_path / "broken.json"
    path.write_text("[{")
    (item,) = items_of(path, linker)
    assert (item.type, item.exception_reason, item.source_locator) == (
        "exception", "unreadable_export", "file")
    assert item.record_system == "psd" and "not valid JSON" in item.exception_message


def test_items_fit_the_item_schema(export, linker):
    assert ITEM_FIELD_NAMES == field_names()
    for item in items_of(export, linker):
        assert len(item.to_row()) == len(ITEM_FIELD_NAMES)


def test_cell_text_reads_every_kind_of_value():
    assert cell_text(4101.0) == "4101" and cell_text(2.5) == "2.5"
    assert cell_text(True) == "true" and cell_text("  a \n b ") == "a b"
    assert cell_text("  a \n b ", keep_lines=True) == "a \n b"
    assert cell_text(["a", None, 3]) == "a; 3"
    assert cell_text([{"b": 1}]) == '[{"b": 1}]'
    assert cell_text({}) is None and cell_text("") is None and cell_text(None) is None


def test_generated_exports_are_read_exactly_as_the_generator_wrote_them(tmp_path):
    """Every bad row the generator wrote is rejected with its reason, every good record links
    the custodians it names, and its date is the one written, in UTC."""
    exports = generate_exports(tmp_path / "records", seed=7, cases=5)
    (tmp_path / "mail").mkdir()
    manifest = parse_manifest({"case": "c", "sources": [
        dict(identity, paths=["mail"]) for identity in custodian_identities()]}, tmp_path)
    linker = CustodianLinker.from_sources(manifest.sources)
    truth = exports.truth
    for export_format, path in exports.files.items():
        export_file = ExportFile("c", exports.system, str(path),
                                 load_mapping(exports.mapping, exports.system))
        items = list(export_items(export_file, linker, 100_000))
        file_truth = truth.files[export_format]
        assert len(items) == file_truth.rows == file_truth.records + len(file_truth.rejects)
        rejects = {int(item.source_locator.split()[-1]): item.exception_reason
                   for item in items if item.type == "exception"}
        assert rejects == {row: f"reject:{reason}" for row, reason in
                           file_truth.rejects.items()}, export_format
        for record in (item for item in items if item.type == "record"):
            assert record.custodians == truth.links[record.record_id] or \
                set(record.custodians) == set(truth.links[record.record_id])
            assert record.custodian == truth.first_custodian[record.record_id]
            assert record.date.isoformat() == truth.dates[record.record_id]
            assert sorted(record.extra_fields) == sorted(truth.extra_fields[record.record_id])
    reasons = Counter(reason for f in truth.files.values() for reason in f.rejects.values())
    assert set(reasons) == {"missing_id", "unparseable_date", "missing_case_ref",
                            "duplicate_id", "wrong_column_count", "missing_date",
                            "invalid_json", "not_an_object"}
    assert any(truth.links.values()) and json.loads(truth.to_json())["files"]
