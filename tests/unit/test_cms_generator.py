"""The synthetic export generator: seeded, byte-identical, and wired into the demo manifest."""

import hashlib

from pipeline.cms.generator import (DEMO_OFFICERS, custodian_identities, generate_exports,
                                    manifest_records_entry)
from pipeline.demo import custodian_for, write_record_exports
from pipeline.manifest import load_manifest, parse_manifest


def digests(exports):
    return {name: hashlib.sha256(path.read_bytes()).hexdigest()
            for name, path in exports.files.items()}


def test_the_same_seed_writes_identical_files_and_truth(tmp_path):
    first = generate_exports(tmp_path / "a", seed=3, cases=3)
    second = generate_exports(tmp_path / "b", seed=3, cases=3)
    other = generate_exports(tmp_path / "c", seed=4, cases=3)
    assert digests(first) == digests(second)
    assert digests(first) != digests(other)
    assert first.truth.links == second.truth.links
    assert set(first.files) == {"csv", "jsonl", "xlsx"}


def test_truth_accounts_for_every_row_written(tmp_path):
    exports = generate_exports(tmp_path, seed=11, cases=4)
    for file_truth in exports.truth.files.values():
        assert file_truth.rows == file_truth.records + len(file_truth.rejects)
        assert file_truth.rejects
    records = sum(f.records for f in exports.truth.files.values())
    # A duplicate repeats a good record's id, so it has no truth entry of its own.
    assert len(exports.truth.links) == records
    linked = {name for names in exports.truth.links.values() for name in names}
    assert linked == {officer.name for officer in DEMO_OFFICERS}


def test_cp1252_csv_holds_accented_names(tmp_path):
    exports = generate_exports(tmp_path, seed=1, cases=8)
    raw = exports.files["csv"].read_bytes()
    assert raw.startswith(b"Record ID;Case Ref;")
    assert "Zoë".encode("cp1252") in raw or "Seán".encode("cp1252") in raw
    raw.decode("cp1252")


def test_custodian_identities_make_a_valid_manifest(tmp_path):
    exports = generate_exports(tmp_path / "records", seed=1, cases=2)
    (tmp_path / "mail").mkdir()
    manifest = parse_manifest({
        "case": "c",
        "sources": [dict(identity, paths=["mail"]) for identity in custodian_identities()],
        "records": [manifest_records_entry(exports, tmp_path)]}, tmp_path)
    assert [source.custodian for source in manifest.sources] == [
        "Easy Ham 1", "Easy Ham 2", "Hard Ham 1", "Spam 1", "Spam 2"]
    (record_source,) = manifest.records
    assert record_source.system == "psd-cms" and len(record_source.paths) == 3
    assert record_source.mapping == exports.mapping.resolve()


def test_the_demo_manifest_names_the_exports_and_the_custodians_identities(tmp_path,
                                                                         base_config):
    (tmp_path / "mail").mkdir()
    folders = ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"]
    mailboxes = {folder: tmp_path / "mail" / f"{folder}.mbox" for folder in folders}
    for path in mailboxes.values():
        path.write_bytes(b"")
    manifest_path = tmp_path / "manifest.yaml"
    exports = write_record_exports(tmp_path, manifest_path, mailboxes, base_config)
    manifest = load_manifest(manifest_path)
    assert manifest.case == base_config.demo.case
    assert [s.custodian for s in manifest.sources] == [custodian_for(f) for f in folders]
    assert all(s.emails and s.staff_ids and s.aliases for s in manifest.sources)
    assert manifest.records[0].paths == tuple(path.resolve() for path in exports.values())
    assert (tmp_path / "records-truth.json").exists()
