"""Export readers: format, encoding and delimiter detection, and every row read exactly once."""

import codecs
import json
from datetime import datetime

import openpyxl
import pytest

from pipeline.cms.mapping import parse_mapping
from pipeline.cms.readers import (count_rows, detect_delimiter, detect_encoding, detect_format,
                                  open_export)
from pipeline.errors import RecordExportError

AUTO = parse_mapping({"fields": {"record_id": "Ref"}})


def rows_of(path, mapping=AUTO):
    return list(open_export(str(path), mapping).rows())


def test_cp1252_semicolon_csv_is_detected_and_decoded(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes("Ref;Complainant;Notes\r\n1;Mrs Zoë Brontë;Fee of £60 – paid at the café\r\n"
                     "2;Mr Seán O'Connor;Said “no comment”\r\n".encode("cp1252"))
    export = open_export(str(path), AUTO)
    assert (export.format, export.encoding, export.delimiter) == ("csv", "cp1252", ";")
    assert export.warnings == ("guessed charset: cp1252",)
    rows = list(export.rows())
    assert [row.values["Complainant"] for row in rows] == ["Mrs Zoë Brontë", "Mr Seán O'Connor"]
    assert rows[0].values["Notes"] == "Fee of £60 – paid at the café"
    assert rows[1].values["Notes"] == "Said “no comment”"


def test_utf8_bom_tab_file_is_detected_and_the_bom_is_not_part_of_the_header(tmp_path):
    path = tmp_path / "export.txt"
    path.write_bytes(codecs.BOM_UTF8 + "Ref\tOfficer\tNotes, if any\n7\tPC 4101\tÅsa, Ølby\n"
                     .encode("utf-8"))
    export = open_export(str(path), AUTO)
    assert (export.encoding, export.delimiter, export.warnings) == ("utf-8-sig", "\t", ())
    assert export.columns == ("Ref", "Officer", "Notes, if any")
    assert rows_of(path)[0].values == {"Ref": "7", "Officer": "PC 4101", "Notes, if any":
                                       "Åsa, Ølby"}


def test_other_scripts_get_their_own_charset(tmp_path):
    path = tmp_path / "ru.csv"
    path.write_bytes("Ref;Имя\n1;Иван Петров сказал что-то важное о деле\n".encode("cp1251"))
    encoding, warnings = detect_encoding(str(path))
    assert encoding == "cp1251" and warnings == ("guessed charset: cp1251",)
    assert rows_of(path)[0].values["Имя"].startswith("Иван Петров")


def test_utf16_with_a_bom_and_a_declared_encoding(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes("Ref,Name\n1,Zoë\n".encode("utf-16"))
    assert detect_encoding(str(path)) == ("utf-16", ())
    assert rows_of(path)[0].values == {"Ref": "1", "Name": "Zoë"}
    latin = tmp_path / "latin.csv"
    latin.write_bytes("Ref|Name\n1|Zoë\n".encode("latin-1"))
    mapping = parse_mapping({"fields": {"record_id": "Ref"},
                             "csv": {"encoding": "latin-1", "delimiter": "|"}})
    export = open_export(str(latin), mapping)
    assert (export.encoding, export.delimiter, export.warnings) == ("iso8859-1", "|", ())
    assert list(export.rows())[0].values["Name"] == "Zoë"


def test_delimiter_comes_from_the_header_not_from_commas_in_free_text():
    sample = "Ref;Name;Notes\n1;Smith, Jane;a, b, c, d\n2;Jones, Bob;e, f\n"
    assert detect_delimiter(sample) == ";"
    assert detect_delimiter("Ref\n1\n") == ","  # one column: nothing to split
    assert detect_delimiter("a|b\n1|2\n", declared=";") == ";"


def test_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('Ref,Notes\n1,"first line\nsecond line"\n\n2,plain\n3,"a ""quoted"" word"\n')
    rows = rows_of(path)
    assert [(row.locator, row.values["Ref"]) for row in rows] == [
        ("row 2", "1"), ("row 4", "2"), ("row 5", "3")]  # the blank row 3 is not a row
    assert rows[0].values["Notes"] == "first line\nsecond line"
    assert rows[2].values["Notes"] == 'a "quoted" word'


def test_a_row_with_the_wrong_column_count_is_read_as_a_problem(tmp_path):
    path = tmp_path / "shifted.csv"
    path.write_text("Ref;Name;Notes\n1;Ann;fine\n2;Bob\n3;Cy;withdrew; then re-engaged\n"
                    "4;Di;trailing;;\n")
    rows = rows_of(path)
    assert [(row.number, row.problem) for row in rows] == [
        (2, None), (3, "wrong_column_count"), (4, "wrong_column_count"), (5, None)]
    assert rows[1].detail == "2 cell(s) where the header has 3"
    assert rows[2].raw == "3;Cy;withdrew; then re-engaged"
    assert rows[3].values == {"Ref": "4", "Name": "Di", "Notes": "trailing"}


def test_blank_and_repeated_header_names_are_made_usable(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("Ref,Notes,,notes\n1,a,b,c\n")
    export = open_export(str(path), AUTO)
    assert export.columns == ("Ref", "Notes", "column 3", "notes (2)")


def test_json_array_object_key_and_nested_objects(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"exported": "2024-01-01", "data": {"records": [
        {"Ref": "A1", "officer": {"name": "Easy Ham 1", "collar": 4101}},
        ["not", "an", "object"],
        {"Ref": "A2", "tags": ["x", "y"]}]}}))
    mapping = parse_mapping({"fields": {"record_id": "Ref"}, "json": {"records": "data.records"}})
    rows = rows_of(path, mapping)
    assert rows[0].values == {"Ref": "A1", "officer.name": "Easy Ham 1", "officer.collar": 4101}
    assert (rows[1].locator, rows[1].problem) == ("record 2", "not_an_object")
    assert rows[2].values["tags"] == ["x", "y"]
    assert count_rows(str(path), mapping) == ("json", 3)


def test_json_documents_that_hold_no_records_are_unreadable(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"Ref": 1}')
    with pytest.raises(RecordExportError, match="not valid JSON"):
        open_export(str(path), AUTO)
    path.write_text('{"a": [1], "b": [2]}')
    with pytest.raises(RecordExportError, match="name the key that holds them"):
        open_export(str(path), AUTO)
    only_array = tmp_path / "one.json"
    only_array.write_text('{"meta": {}, "cases": [{"Ref": 1}]}')
    assert [row.values for row in rows_of(only_array)] == [{"Ref": 1}]


def test_jsonl_lines_are_numbered_and_bad_lines_kept_as_problems(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"Ref": "1"}\n\n{"Ref": "2", "Notes": "ok"\n[1, 2]\n{"Ref": "3"}\n')
    rows = rows_of(path)
    assert [(row.locator, row.problem) for row in rows] == [
        ("line 1", None), ("line 3", "invalid_json"), ("line 4", "not_an_object"),
        ("line 5", None)]
    assert rows[1].raw == '{"Ref": "2", "Notes": "ok"'


def write_workbook(path, rows, title="Log"):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.create_sheet("Other").append(["nothing"])
    workbook.save(path)


def test_xlsx_rows_keep_sheet_numbers_cell_types_and_unheaded_values(tmp_path):
    path = tmp_path / "log.xlsx"
    write_workbook(path, [["Ref", "Logged", "Collar"], ["A1", datetime(2021, 7, 14, 9, 30), 4101],
                          [None, None, None], ["A2", "TBC", None, "stray note"]])
    export = open_export(str(path), AUTO)
    assert (export.format, export.columns) == ("xlsx", ("Ref", "Logged", "Collar"))
    rows = list(export.rows())
    assert [row.locator for row in rows] == ["row 2", "row 4"]
    assert rows[0].values == {"Ref": "A1", "Logged": datetime(2021, 7, 14, 9, 30),
                              "Collar": 4101}
    assert rows[1].values["column D"] == "stray note"


def test_xlsx_sheet_is_chosen_by_name_and_a_missing_one_is_an_error(tmp_path):
    path = tmp_path / "book.xlsx"
    write_workbook(path, [["Ref"], ["A1"]])
    other = parse_mapping({"fields": {"record_id": "Ref"}, "xlsx": {"sheet": "Other"}})
    assert open_export(str(path), other).columns == ("nothing",)
    absent = parse_mapping({"fields": {"record_id": "Ref"}, "xlsx": {"sheet": "Cases"}})
    with pytest.raises(RecordExportError, match="has no sheet 'Cases'"):
        open_export(str(path), absent)


def test_format_is_detected_from_content_before_the_name(tmp_path):
    jsonl_named_json = tmp_path / "a.json"
    jsonl_named_json.write_text('{"Ref": 1}\n{"Ref": 2}\n')
    array_in_txt = tmp_path / "b.txt"
    array_in_txt.write_text('[{"Ref": 1}]')
    workbook_named_csv = tmp_path / "c.csv"
    write_workbook(workbook_named_csv, [["Ref"]])
    jsonl_by_name = tmp_path / "d.jsonl"
    jsonl_by_name.write_text('["a"]\n')
    plain = tmp_path / "e.dat"
    plain.write_text("Ref,Name\n1,a\n")
    assert [detect_format(str(p)) for p in (jsonl_named_json, array_in_txt, workbook_named_csv,
                                            jsonl_by_name, plain)] == [
        "jsonl", "json", "xlsx", "jsonl", "csv"]
    legacy = tmp_path / "old.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    with pytest.raises(RecordExportError, match=r"legacy binary Excel \(.xls\)"):
        detect_format(str(legacy))


def test_empty_and_header_only_files_have_no_rows(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.csv"
    header_only.write_text("Ref,Name\n")
    assert count_rows(str(empty), AUTO) == ("csv", 0)
    assert count_rows(str(header_only), AUTO) == ("csv", 0)
