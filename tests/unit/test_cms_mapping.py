"""Mapping files for case-management exports: loading, defaults and validation."""

import pytest

from pipeline.cms.generator import MAPPING_PATH, SYSTEM
from pipeline.cms.mapping import PersonColumn, load_mapping, parse_mapping
from pipeline.errors import RecordMappingError


def test_the_shipped_mapping_loads_with_every_field_and_role():
    mapping = load_mapping(MAPPING_PATH, SYSTEM)
    assert mapping.system == "psd-cms"
    assert mapping.column_for("record_id") == "Record ID"
    assert mapping.column_for("date") == "Date Logged"
    assert mapping.body_columns == ("Summary", "Notes")
    assert PersonColumn("Subject Officer", "subject officer", ";") in mapping.people
    assert [p.role for p in mapping.people] == ["subject officer", "complainant", "investigator",
                                               "appropriate authority", "reviewer"]
    assert mapping.required == ("case_ref", "date")
    assert mapping.link_text and mapping.unique_ids and mapping.day_first
    assert mapping.format is mapping.delimiter is mapping.encoding is None  # all detected


def test_a_minimal_mapping_needs_only_the_id_column_and_gets_safe_defaults():
    mapping = parse_mapping({"fields": {"record_id": "Ref"}})
    assert mapping.columns == (("record_id", "Ref"),)
    assert mapping.timezone == "Europe/London" and mapping.day_first
    assert not mapping.link_text and mapping.unique_ids
    assert mapping.timeline_fields() == ()


def test_named_columns_are_compared_without_case_or_spacing():
    mapping = parse_mapping({"fields": {"record_id": "Record  ID", "body": "Notes"},
                             "people": [{"column": "Officer", "role": "subject officer"}]})
    assert mapping.named_columns() == {"record id", "notes", "officer"}


def test_csv_options_accept_names_and_codecs():
    mapping = parse_mapping({"fields": {"record_id": "Ref"}, "format": "csv",
                             "csv": {"delimiter": "tab", "encoding": "Windows-1252"}})
    assert mapping.format == "csv" and mapping.delimiter == "\t"
    assert mapping.encoding == "cp1252"


def test_defaults_fill_fields_the_export_lacks_and_satisfy_required():
    mapping = parse_mapping({"fields": {"record_id": "Ref"},
                             "defaults": {"record_type": "decision"},
                             "required": ["record_type"]})
    assert mapping.default_for("record_type") == "decision"
    assert mapping.required == ("record_type",)


def test_every_problem_is_reported_together():
    with pytest.raises(RecordMappingError) as raised:
        parse_mapping({
            "colour": "red", "format": "xls",
            "fields": {"case_ref": "Case", "officer": "Officer", "title": ["a", "b"]},
            "people": [{"column": "Officer"}, "Investigator"],
            "csv": {"delimiter": "::", "encoding": "klingon", "quote": "'"},
            "dates": {"timezone": "Mars/Olympus", "formats": ["dd/mm/yyyy"], "day_first": "yes"},
            "required": ["outcome", "date"],
            "defaults": {"record_id": "X"},
            "link_text": "sometimes"})
    message = str(raised.value)
    for expected in ("unknown key 'colour'", "'format' must be auto or one of",
                     "unknown record field 'officer'", "'title' must name one column",
                     "'record_id' must name the column", "people[1] (Officer): 'role'",
                     "people[2] must be a mapping", "csv.delimiter must be",
                     "unknown encoding 'klingon'", "csv: unknown key 'quote'",
                     "unknown time zone 'Mars/Olympus'", "dates.formats must list strptime",
                     "dates.day_first must be true or false",
                     "'outcome' is neither mapped to a column nor defaulted",
                     "'date' needs a date column", "defaults: 'record_id' cannot have a default",
                     "link_text must be true or false"):
        assert expected in message, expected
    assert message.startswith("mapping has 17 problem(s)")


def test_a_system_other_than_the_manifests_is_refused(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("system: other\nfields: {record_id: Ref}\n")
    with pytest.raises(RecordMappingError, match="'system' is 'other' but the manifest names"):
        load_mapping(path, "psd-cms")


def test_missing_and_malformed_files_are_typed_errors(tmp_path):
    with pytest.raises(RecordMappingError, match="mapping file not found"):
        load_mapping(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("fields: [unclosed\n")
    with pytest.raises(RecordMappingError, match="not valid YAML"):
        load_mapping(bad)
    bad.write_text("- just a list\n")
    with pytest.raises(RecordMappingError, match="must be a mapping"):
        load_mapping(bad)


def test_the_readme_example_is_a_valid_mapping():
    from pathlib import Path

    import yaml

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The mapping file", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    mapping = parse_mapping(yaml.safe_load(example), system="psd-cms")
    assert mapping.default_for("record_type") == "decision"
    assert mapping.date_formats == ("%d/%m/%Y %H:%M",)
    assert len(mapping.people) == 5 and mapping.body_columns == ("Summary", "Notes")
