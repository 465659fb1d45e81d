"""Public mailbox files that ../shared/corpus lacks, fetched from registries Trawl may reach.

- Apache Tika's `testPST.pst` (Apache-2.0, in the tests jar of tika-parser-microsoft-module on
  Maven Central): seven messages, one of them forwarding a message with a DOCX attached (a
  document attached to a message embedded in a PST message), and a deleted one.
- pst-extractor's test files (MIT, in its npm package): `enron.pst`, 71 messages of one Enron
  custodian from the FERC release with 70 attachments, and two OSTs of an Outlook.com account
  (appointments, meeting requests, PDF, JPEG and text attachments).

`make test` fetches them before the tests (`python tests/public_fixtures.py`). Each archive
and each file taken from it is checked against its SHA-256, and they are kept in
`paths.cache_dir`/fixtures, outside the clone, so no clone carries them and every clone on the
machine shares them. A test that needs one that is not there skips, with the reason.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.artifacts import MavenArtifact, NpmPackage, ensure_artifact
from pipeline.config import Config, load_config
from pipeline.errors import ArtifactError

ARCHIVES = {
    "tika-tests": (MavenArtifact("org.apache.tika", "tika-parser-microsoft-module", "3.2.2",
                                 "jar", "tests"),
                   "e0e81f322ccc6c6e77013c8e473688d6f276c2b1059d14e27aa7cb937e8cff07"),
    "pst-extractor": (NpmPackage("pst-extractor", "1.12.0"),
                      "c4c9eb9e75d09171452a4706df7d0e0e49606c1ca04aa81f30417dd385ad0e30"),
}


@dataclass(frozen=True)
class PublicFile:
    archive: str
    member: str
    sha256: str


FILES = {
    "testPST.pst": PublicFile(
        "tika-tests", "test-documents/testPST.pst",
        "f2a6b1d2cad00f574e3d1c1211c4b1c854d6526caea77213adc3da92b7813ae3"),
    "enron.pst": PublicFile(
        "pst-extractor", "package/example/testdata/enron.pst",
        "6152489de3472be6f1f840935d34b6dbf5f62b025dd015929ea9cf66eb5a5b46"),
    "pstextractortest.ost": PublicFile(
        "pst-extractor", "package/example/testdata/pstextractortest@outlook.com.ost",
        "daacd8d441428634e103b7c1e37fe1e5909256cc917551667049b5e84dfcf5f0"),
    "pstextractortestpdf.ost": PublicFile(
        "pst-extractor", "package/example/testdata/pstextractortestpdf@outlook.com.ost",
        "c914f1f9eea55da0eb3884d063acf18a109fcb34cdd7dda623770f117ff63918"),
}


def fixtures_dir(config: Config) -> Path:
    return config.paths.cache_dir / "fixtures"


def _member_bytes(archive: Path, member: str) -> bytes:
    if archive.suffix == ".jar":
        with zipfile.ZipFile(archive) as opened:
            return opened.read(member)
    with tarfile.open(archive, "r:gz") as opened:
        extracted = opened.extractfile(member)
        if extracted is None:
            raise ArtifactError(f"{member} in {archive.name} is not a file")
        return extracted.read()


def fetch_all(config: Config, progress=print) -> dict[str, Path]:
    """Every public file, fetched and checked where it is not there yet; name -> path."""
    directory = fixtures_dir(config)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, wanted in FILES.items():
        target = directory / name
        if not target.is_file() or _sha256(target.read_bytes()) != wanted.sha256:
            package, package_sha256 = ARCHIVES[wanted.archive]
            progress(f"fixtures: {name} from {package.coordinates}")
            archive = ensure_artifact(package, package_sha256, directory / "archives")
            data = _member_bytes(archive, wanted.member)
            if _sha256(data) != wanted.sha256:
                raise ArtifactError(f"{wanted.member} in {archive.name} is not the expected file: "
                                    f"SHA-256 {_sha256(data)}, expected {wanted.sha256}")
            with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{name}-",
                                             delete=False) as staging:
                staging.write(data)
            os.chmod(staging.name, 0o644)
            os.replace(staging.name, target)
        paths[name] = target
    return paths


def public_file(name: str) -> Path:
    """The fetched public file `name`; the test is skipped, with the reason, when it is absent."""
    path = fixtures_dir(load_config()) / name
    if name not in FILES:
        raise KeyError(f"no public fixture named {name!r}")
    if not path.is_file():
        pytest.skip(f"public fixture {name} not fetched: run `make test`, or "
                    f"`.venv/bin/python tests/public_fixtures.py` ({path} is missing)")
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    try:
        fetched = fetch_all(load_config())
    except ArtifactError as exc:
        sys.exit(f"fixtures: {exc}")
    print(f"fixtures: {len(fetched)} public files in {fixtures_dir(load_config())}")
