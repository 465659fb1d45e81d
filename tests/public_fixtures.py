"""Public mailbox files that ../shared/corpus lacks, fetched from registries Trawl may reach.

- Apache Tika's `testPST.pst` (Apache-2.0, in the tests jar of tika-parser-microsoft-module on
  Maven Central): seven messages, one of them forwarding a message with a DOCX attached (a
  document attached to a message embedded in a PST message), and a deleted one.
- pst-extractor's test files (MIT, in its npm package): `enron.pst`, 71 messages of one Enron
  custodian from the FERC release with 70 attachments, and two OSTs of an Outlook.com account
  (appointments, meeting requests, PDF, JPEG and text attachments).
- rarfile's test archives (ISC, in its source distribution on PyPI): compressed and solid RAR3
  and RAR5, encrypted entries, encrypted headers, Unicode names, and two multi-volume sets,
  kept under `rar/` with their names, so each set's volumes lie side by side.

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

from pipeline.artifacts import MavenArtifact, NpmPackage, PypiSdist, ensure_artifact
from pipeline.config import Config, load_config
from pipeline.errors import ArtifactError

RARFILE_SHA256 = "8e1c8e72d0845ad2b32a47ab11a719bc2e41165ec101fd4d3fe9e92aa3f469ef"
ARCHIVES = {
    "tika-tests": (MavenArtifact("org.apache.tika", "tika-parser-microsoft-module", "3.2.2",
                                 "jar", "tests"),
                   "e0e81f322ccc6c6e77013c8e473688d6f276c2b1059d14e27aa7cb937e8cff07"),
    "pst-extractor": (NpmPackage("pst-extractor", "1.12.0"),
                      "c4c9eb9e75d09171452a4706df7d0e0e49606c1ca04aa81f30417dd385ad0e30"),
    "rarfile": (PypiSdist("rarfile", "4.2", RARFILE_SHA256), RARFILE_SHA256),
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
    **{f"rar/{name}": PublicFile("rarfile", f"rarfile-4.2/test/files/{name}", sha256)
       for name, sha256 in {
           "rar3-solid.rar": "0944932546b994f282cdb3ac724112c312d406b4c1aecfe1eaf9e734e8f96aa2",
           "rar5-solid.rar": "d97d23b2edee9a7daa49e45015ea72aa3f162efeb0abaf559740ab797276203b",
           "rar5-psw.rar": "b6840e95152a1c3b5acd736dc34f988509866f04158b67da1b5a29e166a31355",
           "rar5-hpsw.rar": "9aff93dfd85b1e44daeef233105831999a2076299997b7790e1cf1fd557a4457",
           "unicode.rar": "1d1d25ff7e1a4190055bda32a771a4a5e282ddd8078ce730ca44c45befcec176",
           "rar3-vols.part1.rar":
               "5a89fe55b4d9d32882544bd1d9b6f46134c80aa52939129b2b5de673dfbeb9c8",
           "rar3-vols.part2.rar":
               "abbe9191d7a8e0b165b6af24784cd5541b0de4cfb9c252fbe6def46fb5a9619f",
           "rar3-vols.part3.rar":
               "3ef3d6ba040b47d9f89210cb877fcf20166bf2b6299361459b5466248fb722be",
           "rar5-vols.part1.rar":
               "c997e965ad319646e3bead59b372a9bd87459aa471c8bc8ad02267d43e328c2f",
           "rar5-vols.part2.rar":
               "484343c1ca19e1eac8103946f1c0e7746d6df5d995f8f55395f03786ad34e709",
           "rar5-vols.part3.rar":
               "0b117cf1cb7b46877124d5f07ebc45580b4a5feadc24f5578196036a32c9eadc",
       }.items()},
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
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or _sha256(target.read_bytes()) != wanted.sha256:
            package, package_sha256 = ARCHIVES[wanted.archive]
            progress(f"fixtures: {name} from {package.coordinates}")
            archive = ensure_artifact(package, package_sha256, directory / "archives")
            data = _member_bytes(archive, wanted.member)
            if _sha256(data) != wanted.sha256:
                raise ArtifactError(f"{wanted.member} in {archive.name} is not the expected file: "
                                    f"SHA-256 {_sha256(data)}, expected {wanted.sha256}")
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}-",
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
