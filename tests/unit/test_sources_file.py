"""sources.json is written row by row, and reads back as the list it would have been."""

from __future__ import annotations

import json

import pytest

from pipeline.reconcile import write_sources

ROWS = [{"path": "/evidence/a/Ünïcode mail.eml", "custodian": "a", "format": "eml", "size": 10,
         "md5": "0" * 32, "sha256": "1" * 64, "error": None, "found": {"email": 1}},
        {"path": "/evidence/b/box.pst", "custodian": "b", "format": "pst", "size": 2 ** 40,
         "md5": None, "sha256": None, "error": "corrupt: truncated header",
         "found": {"appointment": 3, "email": 40, "exception": 1}},
        {"path": "/evidence/cms/cases.csv", "custodian": "cms", "format": "csv", "size": 7,
         "md5": "2" * 32, "sha256": "3" * 64, "error": None, "found": {},
         "system": "psd-cms", "rows_read": 0, "records": 0, "rejects": 0}]


@pytest.mark.parametrize("count", [0, 1, 3])
def test_streamed_sources_file_is_what_one_dump_of_the_list_would_be(tmp_path, count):
    rows = ROWS[:count]
    path = write_sources(tmp_path / "case", iter(rows))
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(rows, indent=1, ensure_ascii=False) + "\n"
    assert json.loads(text) == rows
    assert [p.name for p in path.parent.iterdir()] == ["sources.json"]


def test_a_failed_run_leaves_the_previous_sources_file_whole(tmp_path):
    path = write_sources(tmp_path, ROWS)

    def breaking():
        yield ROWS[0]
        raise RuntimeError("executor lost")

    with pytest.raises(RuntimeError):
        write_sources(tmp_path, breaking())
    assert json.loads(path.read_text(encoding="utf-8")) == ROWS
    assert [p.name for p in tmp_path.iterdir()] == ["sources.json"]
