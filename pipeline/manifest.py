"""The case manifest: the unit an investigator works with.

```yaml
case: demo                  # slug; names the case's indices and aliases
sources:
  - custodian: Jane Smith   # display name; a stable id is derived from it
    paths: [/evidence/jsmith.pst, /evidence/jsmith/]
```
Every problem is found and reported together, before any work starts. Relative paths are
resolved against the manifest's own folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from pipeline.errors import ManifestError
from pipeline.ids import custodian_id_for

CASE_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MANIFEST_KEYS = {"case", "sources"}
SOURCE_KEYS = {"custodian", "paths"}


@dataclass(frozen=True)
class CustodianSource:
    custodian: str
    custodian_id: str
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class Manifest:
    case: str
    sources: tuple[CustodianSource, ...]
    path: Path | None = None

    @property
    def custodians(self) -> tuple[str, ...]:
        return tuple(source.custodian for source in self.sources)


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    manifest_path = Path(path)
    try:
        data = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"manifest not found: {manifest_path}") from exc
    except yaml.YAMLError as exc:
        raise ManifestError(f"manifest {manifest_path} is not valid YAML: {exc}") from exc
    return parse_manifest(data, manifest_path.resolve().parent, manifest_path)


def parse_manifest(data: Any, base_dir: Path, path: Path | None = None) -> Manifest:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ManifestError("manifest must be a mapping with 'case' and 'sources'")
    for key in sorted(set(data) - MANIFEST_KEYS):
        problems.append(f"unknown key '{key}' (allowed: {', '.join(sorted(MANIFEST_KEYS))})")
    case = data.get("case")
    if not isinstance(case, str) or not CASE_SLUG.match(case):
        problems.append(f"'case' must be a slug of lower-case letters, digits, '-' and '_' "
                        f"(got {case!r})")
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        problems.append("'sources' must be a non-empty list")
        raw_sources = []
    sources = list(_parse_sources(raw_sources, base_dir, problems))
    _check_duplicate_custodians(sources, problems)
    if problems:
        where = f" {path}" if path else ""
        raise ManifestError(f"manifest{where} has {len(problems)} problem(s):\n  - "
                            + "\n  - ".join(problems))
    return Manifest(case=case, sources=tuple(sources), path=path)


def _parse_sources(raw_sources: list[Any], base_dir: Path,
                   problems: list[str]) -> Iterator[CustodianSource]:
    for number, entry in enumerate(raw_sources, start=1):
        where = f"sources[{number}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a mapping with 'custodian' and 'paths'")
            continue
        for key in sorted(set(entry) - SOURCE_KEYS):
            problems.append(f"{where}: unknown key '{key}' "
                            f"(allowed: {', '.join(sorted(SOURCE_KEYS))})")
        custodian = entry.get("custodian")
        if not isinstance(custodian, str) or not custodian.strip():
            problems.append(f"{where}: 'custodian' must be a non-empty display name")
            continue
        custodian = " ".join(custodian.split())
        raw_paths = entry.get("paths")
        if isinstance(raw_paths, str):
            raw_paths = [raw_paths]
        if not isinstance(raw_paths, list) or not raw_paths:
            problems.append(f"{where} ({custodian}): 'paths' must list files or directories")
            continue
        paths = []
        for raw_path in raw_paths:
            resolved = Path(os.path.expanduser(str(raw_path)))
            resolved = resolved if resolved.is_absolute() else base_dir / resolved
            if not resolved.exists():
                problems.append(f"{where} ({custodian}): path does not exist: {resolved}")
            paths.append(resolved.resolve())
        yield CustodianSource(custodian=custodian, custodian_id=custodian_id_for(custodian),
                              paths=tuple(paths))


def _check_duplicate_custodians(sources: list[CustodianSource], problems: list[str]) -> None:
    seen: dict[str, str] = {}
    for source in sources:
        if source.custodian_id in seen:
            problems.append(f"duplicate custodian '{source.custodian}' (same as "
                            f"'{seen[source.custodian_id]}'): list all of a custodian's paths "
                            f"under one entry")
        else:
            seen[source.custodian_id] = source.custodian
