"""`trawl bench` / `make bench`: Trawl against three baselines on one generated corpus per size.

For each size the same corpus (pipeline.bench.corpus, seeded) is read by:
- Trawl itself, end to end (`run_case`), with wall time per stage and peak RSS per process group
  sampled from /proc while it runs;
- the naive baseline: one Python process, `mailbox` + `email` + `helpers.bulk` with defaults;
- readpst (Debian pst-utils) on the PST copies, against a Trawl run on the same PSTs;
- the ceiling: Trawl's own staged documents pre-built as `_bulk` NDJSON and sent at tuned
  settings, which is the most this Elasticsearch node can absorb.

Baselines run one after another on the same machine, after Trawl, so nothing competes for the two
cores. The results are kept as JSON under `bench.directory`; `render` turns them into the tables
and plot in docs/benchmarks.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import Config
from pipeline.errors import BenchError
from pipeline.index.indices import alias_name
from pipeline.progress import Reporter, StageReporter, silent

MB = 1024 * 1024
RESULTS_FILE = "results.json"


@dataclass
class Throughput:
    """One measured step: what went through it, and how fast."""

    name: str
    seconds: float
    items: int
    bytes: int
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / MB / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["items_per_s"] = round(self.items_per_s, 1)
        data["mb_per_s"] = round(self.mb_per_s, 2)
        return data


def bench_dir(config: Config) -> Path:
    return (config.paths.root / config.bench.directory).resolve()


def _tree_bytes(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        elif path.exists():
            total += path.stat().st_size
    return total


def seed_material(config: Config, reporter: Reporter) -> Path:
    """The SpamAssassin mboxes the generator draws bodies and headers from (`make demo`'s)."""
    from pipeline import demo

    corpus = demo.prepare(config, progress=reporter)
    return next(iter(corpus.mailboxes.values())).parent


def ensure_corpus(config: Config, size: int, reporter: Reporter,
                  shared_corpus: Path | None) -> tuple[Path, dict[str, Any]]:
    """The generated corpus for `size`, generated once and reused while its spec is unchanged."""
    from pipeline.bench.corpus import CorpusSpec, generate_corpus

    spec = CorpusSpec(items=size, custodians=config.bench.custodians, seed=config.bench.seed,
                      pst_copies=shared_corpus is not None)
    out_dir = bench_dir(config) / f"corpus-{size}"
    truth_path = out_dir / "truth.json"
    if truth_path.exists():
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        if truth.get("spec") == _jsonable(asdict(spec)):  # as truth.json gives it back
            reporter(f"bench: reusing the {size:,}-message corpus in {out_dir}")
            return out_dir, truth
    shutil.rmtree(out_dir, ignore_errors=True)
    reporter(f"bench: generating a {size:,}-message corpus in {out_dir}")
    started = time.monotonic()
    truth = generate_corpus(spec, out_dir, seed_material(config, reporter), shared_corpus,
                            reporter)
    truth = dict(truth, generation_seconds=round(time.monotonic() - started, 1))
    truth_path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return out_dir, truth


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _sampler_groups(config: Config) -> dict[str, Any]:
    from pipeline.bench import measure

    driver = os.getpid()
    return {
        "driver (python)": lambda: [driver],
        "spark jvm": lambda: measure.spark_pids(driver)[0],
        "python workers": lambda: measure.spark_pids(driver)[1],
        "elasticsearch": lambda: measure.service_pids("elasticsearch", config),
        "tika": lambda: measure.service_pids("tika", config),
    }


def _stage_peaks(sampler: Any, marks: list[tuple[str, float]], ended: float
                 ) -> dict[str, dict[str, float]]:
    bounds = marks + [("", ended)]
    return {name: sampler.peaks_between(start, bounds[i + 1][1])
            for i, (name, start) in enumerate(bounds[:-1])}


def trawl_run(config: Config, manifest_path: Path, case: str, corpus_bytes: int,
              reporter: Reporter) -> dict[str, Any]:
    """Trawl end to end on one manifest, on a Spark session of its own, sampled for RSS. The
    bench calls it through `run_apart`, so the driver's figures are this run's alone."""
    from pipeline.bench.measure import RssSampler
    from pipeline.manifest import load_manifest
    from pipeline.run import run_case
    from pipeline.spark import build_session

    manifest = dataclasses.replace(load_manifest(str(manifest_path)), case=case)
    stages = StageReporter(6)
    with RssSampler(_sampler_groups(config), interval=0.5) as sampler:
        started = time.monotonic()
        spark = build_session(config.spark)
        session_seconds = time.monotonic() - started
        try:
            summary = run_case(manifest, config, spark, stages)
        finally:
            spark.stop()
        ended = time.monotonic()
    staged = summary.staged
    seconds = summary.stage_seconds
    read_items = staged - summary.items_by_type.get("record", 0)
    steps = [
        Throughput("hash and detect", seconds.get("list", 0) + seconds.get("detect", 0),
                   summary.files, corpus_bytes),
        Throughput("parse and normalise", seconds.get("read", 0), read_items, corpus_bytes),
        Throughput("dedup, threads, near-dups", seconds.get("analyse", 0), staged, corpus_bytes),
        Throughput("index", seconds.get("index", 0) + seconds.get("publish", 0),
                   summary.indexed, corpus_bytes),
        Throughput("end to end", ended - started, staged, corpus_bytes),
    ]
    stage_peaks = _stage_peaks(sampler, stages.marks(), ended)
    for step, stage in zip(steps, ["detect", "read", "analyse", "index"]):
        step.peak_rss_mb = stage_peaks.get(stage, {})
    steps[-1].peak_rss_mb = sampler.peak_rss_mb()
    return {"case": case, "summary": summary.to_dict(), "steps": [s.to_dict() for s in steps],
            "session_seconds": round(session_seconds, 1), "rss_timeline": sampler.timeline(),
            "started": started, "process": os.getpid()}


def _drop_case_indices(client: Any, config: Config, case: str) -> None:
    """A measured run starts from an empty index, never overwriting a previous run's."""
    alias = alias_name(config.elasticsearch, case)
    for index in client.indices.get(index=f"{alias}-items-*", allow_no_indices=True):
        client.indices.delete(index=index)


def _unique_mail_messages(items: Any) -> int:
    """Unique top-level emails from the MBOX and EML tree, from the staged items."""
    from pyspark.sql import functions as F

    return items.where((F.col("type") == "email") & (F.col("level") == 0)
                       & ~F.col("is_duplicate")
                       & F.col("source_format").isin("mbox", "eml")).count()


def _pst_only_manifest(corpus_dir: Path) -> Path:
    """manifest-pst.yaml without the MSG copies: readpst reads PSTs only, so Trawl does too."""
    import yaml

    manifest = yaml.safe_load((corpus_dir / "manifest-pst.yaml").read_text(encoding="utf-8"))
    for source in manifest["sources"]:
        source["paths"] = [path for path in source["paths"] if path.rstrip("/").endswith("pst")]
    path = corpus_dir / "manifest-pst-only.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return path


def _mail_paths(corpus_dir: Path) -> list[Path]:
    return sorted(corpus_dir.glob("custodians/*/*.mbox")) + \
        sorted(corpus_dir.glob("custodians/*/eml/**/*.eml"))


def bench_size(config: Config, size: int, reporter: Reporter,
               shared_corpus: Path | None, reuse_trawl: bool = False) -> dict[str, Any]:
    """One size: Trawl end to end, then the baselines on the same corpus. `reuse_trawl` takes
    the Trawl run saved for this size (and its staged case) instead of running it again, for
    when a baseline failed after an hour-long run."""
    from pipeline.bench import baselines
    from pipeline.bench.measure import run_apart
    from pipeline.index.client import connect
    from pipeline.index.indices import load_mapping
    from pipeline.spark import build_session

    corpus_dir, truth = ensure_corpus(config, size, reporter, shared_corpus)
    mail_paths = _mail_paths(corpus_dir)
    pst_paths = sorted(corpus_dir.glob("custodians/*/pst/*.pst"))
    corpus_bytes = _tree_bytes([corpus_dir / "custodians"])
    case = f"bench-{size}"

    client = connect(config.elasticsearch)
    partial = bench_dir(config) / f"trawl-{size}.json"
    if reuse_trawl:
        if not partial.exists():
            raise BenchError(f"no saved Trawl run for {size:,} messages ({partial}): run "
                             f"`trawl bench --size {size}` without --reuse-trawl")
        reporter(f"bench {size:,}: reusing the Trawl run saved in {partial}")
        trawl = json.loads(partial.read_text(encoding="utf-8"))
    else:
        _drop_case_indices(client, config, case)
        reporter(f"bench {size:,}: Trawl end to end ({corpus_bytes / MB:,.0f} MB)")
        trawl = run_apart(trawl_run, config, corpus_dir / "manifest.yaml", case, corpus_bytes,
                          reporter)
        # Kept at once, so a baseline that fails later cannot lose an hour of measured run.
        partial.write_text(json.dumps(trawl, indent=1, default=str), encoding="utf-8")
    reporter(f"bench {size:,}: checking the truth and pre-building the ceiling's NDJSON")
    ndjson_dir = bench_dir(config) / f"ndjson-{size}"
    shutil.rmtree(ndjson_dir, ignore_errors=True)
    spark = build_session(config.spark)
    try:
        items_dir = config.paths.case_dir(case) / "items.parquet"
        unique_found = _unique_mail_messages(spark.read.parquet(str(items_dir)))
        baselines.build_bulk_files(spark, items_dir, ndjson_dir, config.bench.ceiling_sample)
    finally:
        spark.stop()
    truth_check = {"messages_unique_expected": truth["messages_unique"],
                   "messages_unique_found": unique_found,
                   "ok": unique_found == truth["messages_unique"]}

    reporter(f"bench {size:,}: ceiling (pre-built NDJSON, tuned _bulk)")
    ceiling = baselines.ceiling_bulk(ndjson_dir, client, f"bench-scratch-ceiling-{size}",
                                     load_mapping())
    ndjson_bytes = _tree_bytes([ndjson_dir])
    shutil.rmtree(ndjson_dir, ignore_errors=True)
    client.indices.delete(index=f"bench-scratch-ceiling-{size}", ignore_unavailable=True)

    sample = min(config.bench.naive_sample, size)
    reporter(f"bench {size:,}: naive single-process ingest ({sample:,} messages)")
    naive = baselines.naive_ingest_apart(mail_paths, config.elasticsearch,
                                         f"bench-scratch-naive-{size}",
                                         limit=sample if sample < size else None)
    client.indices.delete(index=f"bench-scratch-naive-{size}", ignore_unavailable=True)

    pst = {}
    if pst_paths:
        reporter(f"bench {size:,}: readpst and Trawl on the same {len(pst_paths)} PST file(s)")
        pst_readpst = baselines.readpst_extract(pst_paths, bench_dir(config) / "readpst-out")
        shutil.rmtree(bench_dir(config) / "readpst-out", ignore_errors=True)
        _drop_case_indices(client, config, f"{case}-pst")
        pst_trawl = run_apart(trawl_run, config, _pst_only_manifest(corpus_dir), f"{case}-pst",
                              _tree_bytes(pst_paths), reporter)
        pst = {"readpst": asdict(pst_readpst), "trawl": pst_trawl["steps"],
               "trawl_summary": pst_trawl["summary"]}

    return {"size": size, "truth": truth, "truth_check": truth_check,
            "corpus_bytes": corpus_bytes, "trawl": trawl, "naive": asdict(naive),
            "ceiling": asdict(ceiling), "ndjson_bytes": ndjson_bytes, "pst": pst,
            "ratios": ratios(trawl, naive, ceiling, pst, truth)}


def _step(steps: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(step for step in steps if step["name"] == name)


def ratios(trawl: dict[str, Any], naive: Any, ceiling: Any, pst: dict[str, Any],
           truth: dict[str, Any]) -> dict[str, float | None]:
    """Trawl / naive (messages per second end to end, the unit both count), index stage /
    ceiling (documents per second), and Trawl / readpst (PST items per second). Three decimals,
    so that a goal is never met by rounding (0.698 is not 0.7)."""
    end_to_end = _step(trawl["steps"], "end to end")
    messages_per_s = truth["messages_written"] / end_to_end["seconds"]
    index = _step(trawl["steps"], "index")
    result: dict[str, float | None] = {
        "trawl_messages_per_s": round(messages_per_s, 1),
        "trawl_over_naive": round(messages_per_s / naive.items_per_s, 3)
        if naive.items_per_s else None,
        "index_over_ceiling": round(index["items_per_s"] / ceiling.items_per_s, 3)
        if ceiling.items_per_s else None,
        "trawl_over_readpst": None,
    }
    if pst and pst["readpst"]["items_per_s"]:
        read = _step(pst["trawl"], "parse and normalise")
        result["trawl_over_readpst"] = round(read["items_per_s"] / pst["readpst"]["items_per_s"], 3)
    return result


def machine(config: Config) -> dict[str, Any]:
    """What the numbers were measured on, with the Java that Spark runs on."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text()
                         .splitlines() if line.startswith("MemTotal")))
    java_binary = (str(Path(config.spark.java_home) / "bin" / "java") if config.spark.java_home
                   else "java")
    java = subprocess.run([java_binary, "-version"], capture_output=True, text=True).stderr
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "java": f"Spark on {java.splitlines()[0]}" if java else "",
            "date": time.strftime("%Y-%m-%d")}


def run_benchmark(config: Config, sizes: list[int], reporter: Reporter = silent,
                  shared_corpus: Path | None = None, reuse_trawl: bool = False
                  ) -> dict[str, Any]:
    """Every size in turn; results merged into `<bench.directory>/results.json`."""
    results_path = bench_dir(config) / RESULTS_FILE
    results = json.loads(results_path.read_text()) if results_path.exists() else {"sizes": {}}
    results["machine"] = machine(config)
    for size in sizes:
        outcome = bench_size(config, size, reporter, shared_corpus, reuse_trawl)
        outcome["config"] = {"spark": asdict(config.spark),
                             "bulk": asdict(config.elasticsearch.bulk),
                             "es_heap": config.elasticsearch.node.heap,
                             "tika_heap": config.tika.node.heap,
                             "naive_sample": config.bench.naive_sample,
                             "ceiling_sample": config.bench.ceiling_sample}
        outcome["trawl"].pop("started", None)
        results["sizes"][str(size)] = outcome
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=1, default=str))
        reporter(f"bench {size:,}: {json.dumps(outcome['ratios'])}")
    return results
