"""The case manifest: the unit an investigator works with.

```yaml
case: demo                  # slug; names the case's indices and aliases
dedup: global               # or custodial (within each custodian); global is the default
sources:
  - custodian: Jane Smith   # display name; a stable id is derived from it
    paths: [/evidence/jsmith.pst, /evidence/jsmith/]
    aliases: [J. Smith]     # optional: other names, addresses and staff numbers that mean
    emails: [jane.smith@force.example]   # this custodian, in mail and in case records
    staff_ids: ["PC 1234"]
records:                    # optional: case-management exports
  - system: case-management
    paths: [/exports/cases.csv]
    mapping: conf/records/case-management.yaml
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
MANIFEST_KEYS = {"case", "sources", "dedup", "records"}
SOURCE_KEYS = {"custodian", "paths", "aliases", "emails", "staff_ids"}
RECORD_KEYS = {"system", "paths", "mapping"}
DEDUP_MODES = ("global", "custodial")


@dataclass(frozen=True)
class CustodianSource:
    custodian: str
    custodian_id: str
    paths: tuple[Path, ...]
    aliases: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    staff_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordSource:
    system: str
    paths: tuple[Path, ...]
    mapping: Path


@dataclass(frozen=True)
class Manifest:
    case: str
    sources: tuple[CustodianSource, ...]
    path: Path | None = None
    dedup: str = "global"
    records: tuple[RecordSource, ...] = ()

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
    dedup = data.get("dedup", "global")
    if dedup not in DEDUP_MODES:
        problems.append(f"'dedup' must be one of {', '.join(DEDUP_MODES)} (got {dedup!r})")
    raw_records = data.get("records", [])
    if not isinstance(raw_records, list):
        problems.append("'records' must be a list of exports")
        raw_records = []
    records = list(_parse_records(raw_records, base_dir, problems))
    if problems:
        where = f" {path}" if path else ""
        raise ManifestError(f"manifest{where} has {len(problems)} problem(s):\n  - "
                            + "\n  - ".join(problems))
    return Manifest(case=case, sources=tuple(sources), path=path, dedup=dedup,
                    records=tuple(records))


def _resolve_paths(raw_paths: Any, base_dir: Path, where: str,
                   problems: list[str]) -> tuple[Path, ...] | None:
    if isinstance(raw_paths, str):
        raw_paths = [raw_paths]
    if not isinstance(raw_paths, list) or not raw_paths:
        problems.append(f"{where}: 'paths' must list files or directories")
        return None
    paths = []
    for raw_path in raw_paths:
        resolved = Path(os.path.expanduser(str(raw_path)))
        resolved = resolved if resolved.is_absolute() else base_dir / resolved
        if not resolved.exists():
            problems.append(f"{where}: path does not exist: {resolved}")
        paths.append(resolved.resolve())
    return tuple(paths)


def _string_list(entry: dict[str, Any], key: str, where: str,
                 problems: list[str]) -> tuple[str, ...]:
    value = entry.get(key, [])
    if isinstance(value, (str, int)):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        problems.append(f"{where}: '{key}' must be a list of strings")
        return ()
    return tuple(" ".join(str(v).split()) for v in value if str(v).strip())


def _parse_records(raw_records: list[Any], base_dir: Path,
                   problems: list[str]) -> Iterator[RecordSource]:
    for number, entry in enumerate(raw_records, start=1):
        where = f"records[{number}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a mapping with 'system', 'paths' and 'mapping'")
            continue
        for key in sorted(set(entry) - RECORD_KEYS):
            problems.append(f"{where}: unknown key '{key}' "
                            f"(allowed: {', '.join(sorted(RECORD_KEYS))})")
        system = entry.get("system")
        if not isinstance(system, str) or not system.strip():
            problems.append(f"{where}: 'system' must name the source system")
            continue
        paths = _resolve_paths(entry.get("paths"), base_dir, f"{where} ({system})", problems)
        mapping = entry.get("mapping")
        if not isinstance(mapping, str):
            problems.append(f"{where} ({system}): 'mapping' must name a mapping file")
            continue
        mapping_path = Path(os.path.expanduser(mapping))
        mapping_path = mapping_path if mapping_path.is_absolute() else base_dir / mapping_path
        if not mapping_path.exists():
            problems.append(f"{where} ({system}): mapping file does not exist: {mapping_path}")
        if paths is not None:
            yield RecordSource(system=system.strip(), paths=paths,
                               mapping=mapping_path.resolve())


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
        paths = _resolve_paths(entry.get("paths"), base_dir, f"{where} ({custodian})", problems)
        if paths is None:
            continue
        yield CustodianSource(custodian=custodian, custodian_id=custodian_id_for(custodian),
                              paths=paths,
                              aliases=_string_list(entry, "aliases", where, problems),
                              emails=tuple(e.lower() for e in
                                           _string_list(entry, "emails", where, problems)),
                              staff_ids=_string_list(entry, "staff_ids", where, problems))


def _check_duplicate_custodians(sources: list[CustodianSource], problems: list[str]) -> None:
    """Each custodian once, and no name, alias, address or staff id shared by two of them."""
    seen: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for source in sources:
        if source.custodian_id in seen:
            problems.append(f"duplicate custodian '{source.custodian}' (same as "
                            f"'{seen[source.custodian_id]}'): list all of a custodian's paths "
                            f"under one entry")
            continue
        seen[source.custodian_id] = source.custodian
        identifiers = ({custodian_id_for(a) for a in source.aliases + (source.custodian,)}
                       | set(source.emails) | {s.lower() for s in source.staff_ids})
        for identifier in sorted(identifiers):
            owner = claimed.setdefault(identifier, source.custodian)
            if owner != source.custodian:
                problems.append(f"'{identifier}' identifies both '{owner}' and "
                                f"'{source.custodian}'")
