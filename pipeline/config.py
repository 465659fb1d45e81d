"""One loader turns conf/trawl.yaml (plus an optional overlay) into a frozen Config.

The Config is handed down explicitly to every function that needs a setting. Nothing here reads
the environment at import time; the CLI decides which overlay to use and passes its path in.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from pipeline.errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PACKAGE_ROOT / "conf" / "trawl.yaml"


@dataclass(frozen=True)
class Paths:
    root: Path
    state_dir: Path
    cases_dir: Path
    cache_dir: Path

    @property
    def services_dir(self) -> Path:
        return self.state_dir / "services"

    def case_dir(self, case: str) -> Path:
        return self.cases_dir / case


@dataclass(frozen=True)
class BulkConfig:
    chunk_size: int
    max_chunk_bytes: int
    max_retries: int
    initial_backoff: int
    senders: int = 2


@dataclass(frozen=True)
class ElasticsearchNodeConfig:
    version: str
    sha256: str
    host: str
    http_port: int
    transport_port: int
    heap: str
    java_home: str | None
    run_as: str
    start_timeout: int


@dataclass(frozen=True)
class ElasticsearchConfig:
    embedded: bool
    url: str
    api_key: str | None
    username: str | None
    password: str | None
    ca_certs: str | None
    verify_certs: bool
    request_timeout: int
    index_prefix: str
    number_of_shards: int
    number_of_replicas: int
    bulk: BulkConfig
    node: ElasticsearchNodeConfig


@dataclass(frozen=True)
class TikaNodeConfig:
    version: str
    sha256: str
    host: str
    port: int
    heap: str
    java_home: str | None
    start_timeout: int


@dataclass(frozen=True)
class TikaConfig:
    embedded: bool
    url: str
    timeout: int
    retries: int
    max_bytes: int
    ocr: bool
    node: TikaNodeConfig


@dataclass(frozen=True)
class SparkConfig:
    master: str
    app_name: str
    driver_memory: str
    java_home: str | None
    java_options: str
    shuffle_partitions: int
    split_bytes: int


@dataclass(frozen=True)
class IngestConfig:
    max_text_chars: int
    max_attachment_bytes: int
    # Where a run keeps what its work units share (pffexport's export of a PST), in a folder of
    # its own removed after the read stage; None is the system's temporary folder. The job
    # hands the units that run folder in this field.
    scratch_dir: str | None


@dataclass(frozen=True)
class AnalysisConfig:
    near_duplicate_threshold: float
    shingle_words: int
    minhash_bands: int
    minhash_rows: int
    min_text_chars: int


@dataclass(frozen=True)
class BenchConfig:
    directory: str
    sizes: list[int]
    large_size: int
    custodians: int
    seed: int
    naive_sample: int
    ceiling_sample: int | None


@dataclass(frozen=True)
class DemoConfig:
    npm_package: str
    version: str
    sha256: str
    case: str


@dataclass(frozen=True)
class Config:
    paths: Paths
    elasticsearch: ElasticsearchConfig
    tika: TikaConfig
    spark: SparkConfig
    ingest: IngestConfig
    demo: DemoConfig
    analysis: AnalysisConfig
    bench: BenchConfig
    source: str

    def replace(self, **sections: Any) -> "Config":
        return dataclasses.replace(self, **sections)


def _merge(base: Mapping[str, Any], overlay: Mapping[str, Any], where: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if key not in base:
            raise ConfigError(f"unknown configuration key '{where}{key}'")
        if isinstance(base[key], Mapping):
            if not isinstance(value, Mapping):
                raise ConfigError(f"configuration key '{where}{key}' must be a mapping")
            merged[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {path} must hold a mapping")
    return data


def _build(cls: type, data: Mapping[str, Any], where: str, **extra: Any) -> Any:
    kwargs: dict[str, Any] = dict(extra)
    for field in dataclasses.fields(cls):
        if field.name in kwargs:
            continue
        if field.name not in data:
            raise ConfigError(f"configuration key '{where}{field.name}' is missing")
        kwargs[field.name] = data[field.name]
    return cls(**kwargs)


def _resolve(root: Path, value: str) -> Path:
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() else (root / path)


def load_config(overlay_path: str | os.PathLike[str] | None = None,
                base_path: str | os.PathLike[str] | None = None) -> Config:
    """Load the defaults, merge an optional overlay over them, and freeze the result."""
    base_file = Path(base_path) if base_path else DEFAULT_CONFIG_PATH
    data = _read_yaml(base_file)
    source = str(base_file)
    if overlay_path:
        data = _merge(data, _read_yaml(Path(overlay_path)), "")
        source = f"{base_file} + {overlay_path}"
    root = base_file.resolve().parent.parent
    try:
        raw_paths = data["paths"]
        paths = Paths(root=root,
                      state_dir=_resolve(root, raw_paths["state_dir"]).resolve(),
                      cases_dir=_resolve(root, raw_paths["cases_dir"]).resolve(),
                      cache_dir=_resolve(root, raw_paths["cache_dir"]).resolve())
        es = data["elasticsearch"]
        tika = data["tika"]
        return Config(
            paths=paths,
            elasticsearch=_build(
                ElasticsearchConfig, es, "elasticsearch.",
                bulk=_build(BulkConfig, es["bulk"], "elasticsearch.bulk."),
                node=_build(ElasticsearchNodeConfig, es["node"], "elasticsearch.node."),
            ),
            tika=_build(TikaConfig, tika, "tika.",
                        node=_build(TikaNodeConfig, tika["node"], "tika.node.")),
            spark=_build(SparkConfig, data["spark"], "spark."),
            ingest=_build(IngestConfig, data["ingest"], "ingest."),
            demo=_build(DemoConfig, data["demo"], "demo."),
            analysis=_build(AnalysisConfig, data["analysis"], "analysis."),
            bench=_build(BenchConfig, data["bench"], "bench."),
            source=source,
        )
    except KeyError as exc:
        raise ConfigError(f"configuration section {exc} is missing") from exc
