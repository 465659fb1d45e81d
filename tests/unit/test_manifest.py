import pytest

from pipeline.errors import ManifestError
from pipeline.manifest import load_manifest, parse_manifest


def write(tmp_path, text):
    path = tmp_path / "case.yaml"
    path.write_text(text)
    return path


def test_valid_manifest_resolves_relative_paths_and_derives_custodian_ids(tmp_path):
    (tmp_path / "jsmith").mkdir()
    (tmp_path / "jsmith.mbox").write_text("")
    manifest = load_manifest(write(tmp_path, "case: op-heron\nsources:\n"
                                   "  - custodian: Jane  Smith\n"
                                   "    paths: [jsmith.mbox, jsmith/]\n"))
    assert manifest.case == "op-heron"
    (source,) = manifest.sources
    assert source.custodian == "Jane Smith"
    assert source.custodian_id == "jane-smith"
    assert source.paths == ((tmp_path / "jsmith.mbox").resolve(), (tmp_path / "jsmith").resolve())


def test_every_problem_is_reported_together(tmp_path):
    with pytest.raises(ManifestError) as raised:
        load_manifest(write(tmp_path, "case: Bad Case\nextra: 1\nsources:\n"
                            "  - custodian: A\n    paths: [missing.pst]\n    colour: red\n"))
    message = str(raised.value)
    assert "unknown key 'extra'" in message
    assert "unknown key 'colour'" in message
    assert "path does not exist" in message and "missing.pst" in message
    assert "'case' must be a slug" in message


def test_duplicate_custodians_are_refused_even_with_different_spelling(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ManifestError, match="duplicate custodian 'jane smith'"):
        parse_manifest({"case": "c", "sources": [{"custodian": "Jane Smith", "paths": ["a"]},
                                                  {"custodian": "jane smith", "paths": ["a"]}]},
                       tmp_path)


def test_missing_manifest_file_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(tmp_path / "nope.yaml")


def test_empty_sources_are_refused(tmp_path):
    with pytest.raises(ManifestError, match="'sources' must be a non-empty list"):
        parse_manifest({"case": "c", "sources": []}, tmp_path)


def test_custodian_identities_records_and_dedup_mode_are_read(tmp_path):
    (tmp_path / "mail").mkdir()
    (tmp_path / "cases.csv").write_text("id\n1\n")
    (tmp_path / "cms.yaml").write_text("{}\n")
    manifest = parse_manifest({
        "case": "c", "dedup": "custodial",
        "sources": [{"custodian": "Jane Smith", "paths": ["mail"], "aliases": ["J. Smith"],
                     "emails": ["Jane.Smith@Force.example"], "staff_ids": ["PC 1234"]}],
        "records": [{"system": "case-management", "paths": ["cases.csv"],
                     "mapping": "cms.yaml"}]}, tmp_path)
    (source,) = manifest.sources
    assert source.aliases == ("J. Smith",)
    assert source.emails == ("jane.smith@force.example",)
    assert source.staff_ids == ("PC 1234",)
    assert manifest.dedup == "custodial"
    (records,) = manifest.records
    assert records.system == "case-management"
    assert records.paths == ((tmp_path / "cases.csv").resolve(),)
    assert records.mapping == (tmp_path / "cms.yaml").resolve()


def test_identifier_shared_by_two_custodians_and_bad_records_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ManifestError) as raised:
        parse_manifest({
            "case": "c", "dedup": "sometimes",
            "sources": [{"custodian": "Jane Smith", "paths": ["a"], "emails": ["js@x.org"]},
                        {"custodian": "John Smith", "paths": ["a"], "emails": ["JS@x.org"]}],
            "records": [{"system": "cms", "paths": ["missing.csv"], "mapping": "none.yaml"}]},
            tmp_path)
    message = str(raised.value)
    assert "'js@x.org' identifies both 'Jane Smith' and 'John Smith'" in message
    assert "'dedup' must be one of global, custodial" in message
    assert "missing.csv" in message and "mapping file does not exist" in message
