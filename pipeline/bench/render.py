"""The benchmark's results as Markdown tables and a plot, written into docs/benchmarks.md.

Only the part between the RESULTS markers is rewritten, so the hand-written analysis around it
stays; the plot is docs/benchmarks.png.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.bench.runner import RESULTS_FILE, bench_dir
from pipeline.config import Config
from pipeline.errors import BenchError

START, END = "<!-- results:start -->", "<!-- results:end -->"
GROUPS = ("driver (python)", "spark jvm", "python workers", "elasticsearch", "tika")
GOALS = {"trawl_messages_per_s": 2800, "index_over_ceiling": 0.7, "trawl_over_readpst": 1.0,
         "trawl_over_naive": 2.0}


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _mb(value: float | None) -> str:
    return f"{value:,.0f}" if value else "–"


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _size_section(result: dict[str, Any]) -> list[str]:
    size, truth, trawl = result["size"], result["truth"], result["trawl"]
    summary = trawl["summary"]
    lines = [f"### {size:,} messages", "",
             f"Corpus: {truth['messages_written']:,} messages ({truth['messages_unique']:,} "
             f"unique) and {truth['attachments_written']:,} attachments from "
             f"{truth['spec']['custodians']} custodians, {result['corpus_bytes'] / 2**20:,.0f} "
             f"MB, {truth['mbox_files']} MBOX and {truth['eml_files']:,} EML files plus "
             f"{len(truth.get('copied_files', []))} PST/MSG copies; "
             + (f"generated in {truth['generation_seconds']} s" if truth.get("generation_seconds")
                else "generated beforehand") + " (not counted below).", "",
             f"Settings: `{json.dumps(result.get('config', {}))}`.", "",
             "Trawl, stage by stage (peak RSS in MB during the stage):", ""]
    rows = []
    for step in trawl["steps"]:
        peaks = step.get("peak_rss_mb", {})
        rows.append([step["name"], f"{step['seconds']:,.1f}", f"{step['items']:,}",
                     _rate(step["items_per_s"]), f"{step['mb_per_s']:,.1f}",
                     *(_mb(peaks.get(group)) for group in GROUPS)])
    lines += _table(["step", "wall s", "items", "items/s", "MB/s", *GROUPS], rows)
    analysis = summary.get("analysis_seconds", {})
    if analysis:
        lines += ["", "Inside the analysis stage (wall s): " + ", ".join(
            f"{name} {seconds:,.1f}" for name, seconds in analysis.items()) + "."]
    check = result["truth_check"]
    lines += ["", f"Staged {summary['staged']:,} records, indexed {summary['indexed']:,} "
              f"({summary['index_failed']} rejected, {summary['exceptions']:,} exception "
              f"records). Unique messages from MBOX/EML: {check['messages_unique_found']:,} "
              f"found, {check['messages_unique_expected']:,} in the truth file "
              f"({'equal' if check['ok'] else 'DIFFERENT'}).", "",
              "Baselines on the same input:", ""]
    naive, ceiling = result["naive"], result["ceiling"]
    rows = [["naive (mailbox + email + helpers.bulk defaults, 1 process)",
             f"{naive['items']:,} messages", f"{naive['seconds']:,.1f}",
             _rate(naive["items_per_s"]), f"{naive['mb_per_s']:,.1f}"],
            ["ceiling (Trawl's documents as pre-built NDJSON, tuned _bulk)",
             f"{ceiling['items']:,} documents", f"{ceiling['seconds']:,.1f}",
             _rate(ceiling["items_per_s"]), f"{ceiling['mb_per_s']:,.1f}"]]
    pst = result.get("pst") or {}
    if pst:
        readpst = pst["readpst"]
        read = next(s for s in pst["trawl"] if s["name"] == "parse and normalise")
        rows += [["readpst (pst-utils, 2 processes)", f"{readpst['items']:,} items",
                  f"{readpst['seconds']:,.1f}", _rate(readpst["items_per_s"]),
                  f"{readpst['mb_per_s']:,.1f}"],
                 ["Trawl on the same PSTs (parse stage)", f"{read['items']:,} items",
                  f"{read['seconds']:,.1f}", _rate(read["items_per_s"]),
                  f"{read['mb_per_s']:,.1f}"]]
    lines += _table(["baseline", "went through", "wall s", "items/s", "MB/s"], rows)
    return lines + [""]


def _ratio_rows(results: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for key in sorted(results["sizes"], key=int):
        result = results["sizes"][key]
        ratios = result["ratios"]
        driver = max((step.get("peak_rss_mb", {}).get("spark jvm", 0) or 0)
                     + (step.get("peak_rss_mb", {}).get("driver (python)", 0) or 0)
                     for step in result["trawl"]["steps"])

        def mark(name: str) -> str:
            value = ratios.get(name)
            if value is None:
                return "–"
            return f"{value:,}" + (" ✓" if value >= GOALS[name] else " ✗")
        rows.append([f"{int(key):,}", mark("trawl_messages_per_s"), mark("trawl_over_naive"),
                     mark("index_over_ceiling"), mark("trawl_over_readpst"),
                     f"{driver:,.0f}" + (" ✓" if driver <= 1536 else " ✗")])
    return rows


def render_markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [START, "",
             f"Measured {machine['date']} on {machine['cores']} cores ({machine['cpu']}), "
             f"{machine['memory_gb']} GB RAM, Linux {machine['kernel']}, Python "
             f"{machine['python']}, {machine['java']}.", "",
             "Against the goals (✓ met, ✗ not met):", ""]
    lines += _table(["messages", "Trawl messages/s end to end (goal 2,800)",
                     "Trawl / naive (goal ≥ 2)", "index / ceiling (goal ≥ 0.7)",
                     "Trawl / readpst (goal ≥ 1)", "driver RSS MB, python + JVM (goal ≤ 1,536)"],
                    _ratio_rows(results))
    lines += ["", "![Throughput per stage and memory over time](benchmarks.png)", ""]
    for key in sorted(results["sizes"], key=int):
        lines += _size_section(results["sizes"][key])
    return "\n".join(lines + [END])


def plot(results: dict[str, Any], path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(results["sizes"], key=int)
    figure, (rates, memory) = plt.subplots(1, 2, figsize=(13, 4.8))
    names = ["parse and normalise", "dedup, threads, near-dups", "index", "end to end",
             "naive", "ceiling"]
    width = 0.8 / max(len(keys), 1)
    for offset, key in enumerate(keys):
        result = results["sizes"][key]
        steps = {s["name"]: s["items_per_s"] for s in result["trawl"]["steps"]}
        values = [steps.get(n, 0) for n in names[:4]] + [result["naive"]["items_per_s"],
                                                         result["ceiling"]["items_per_s"]]
        rates.bar([i + offset * width for i in range(len(names))], values, width,
                  label=f"{int(key):,} messages")
    rates.set_xticks([i + width * (len(keys) - 1) / 2 for i in range(len(names))])
    rates.set_xticklabels(["parse +\nnormalise", "dedup +\nthreads", "index", "end to\nend",
                           "naive\nbaseline", "ES\nceiling"])
    rates.set_ylabel("items per second")
    rates.set_title("Throughput by stage")
    rates.legend()
    largest = results["sizes"][keys[-1]]
    timeline = largest["trawl"].get("rss_timeline", [])
    if timeline:
        start = timeline[0]["t"]
        for group in GROUPS:
            memory.plot([(s["t"] - start) / 60 for s in timeline],
                        [s["mb"].get(group, 0) for s in timeline], label=group)
        memory.set_xlabel("minutes into the run")
        memory.set_ylabel("RSS, MB")
        memory.set_title(f"Memory during the {int(keys[-1]):,}-message run")
        memory.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_report(config: Config) -> Path:
    results_path = bench_dir(config) / RESULTS_FILE
    if not results_path.exists():
        raise BenchError(f"no benchmark results at {results_path}: run `make bench` first")
    results = json.loads(results_path.read_text(encoding="utf-8"))
    docs = config.paths.root / "docs"
    plot(results, docs / "benchmarks.png")
    report = docs / "benchmarks.md"
    text = report.read_text(encoding="utf-8") if report.exists() else f"{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    report.write_text(head + render_markdown(results) + tail, encoding="utf-8")
    return report
