"""Wall time and peak memory of the processes a benchmark run involves, read straight from /proc.

`RssSampler` polls the resident set size of named groups of processes on a daemon thread. A
group is a callable returning pids, asked again on every tick, because Spark's Python workers
and JVMs come and go during a run. It keeps, per group, the peak of the group's summed RSS and
the peak of its largest single process.

    with RssSampler({"driver (python)": lambda: [os.getpid()],
                     "elasticsearch": lambda: service_pids("elasticsearch", config)}) as rss:
        ...
    rss.peak_rss_mb(), rss.peak_single_mb(), rss.peaks_between(t0, t1), rss.timeline()
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from pipeline.config import Config

PidSource = Callable[[], Iterable[int]]

MIB = 1024 * 1024
# Markers in a command line that name a service's JVM, for services Trawl did not start itself.
SERVICE_MARKERS = {"elasticsearch": "org.elasticsearch.bootstrap.Elasticsearch",
                   "tika": "tika-server-standard"}


def rss_bytes(pid: int) -> int | None:
    """Resident set size of a live process, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return 0  # a zombie or kernel thread has no VmRSS line


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", errors="replace") for part in raw.split(b"\0") if part]


def _parent_map() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # The command name in parentheses may itself hold spaces and parentheses.
        parents[int(entry.name)] = int(text.rsplit(")", 1)[1].split()[1])
    return parents


def children(pid: int, recursive: bool = True) -> list[int]:
    """The processes whose parent is `pid` (and, if recursive, their descendants)."""
    by_parent: dict[int, list[int]] = {}
    for child, parent in _parent_map().items():
        by_parent.setdefault(parent, []).append(child)
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in sorted(by_parent.get(pending.pop(), [])):
            found.append(child)
            if recursive:
                pending.append(child)
    return found


def _is_java(pid: int) -> bool:
    command = command_line(pid)
    return bool(command) and os.path.basename(command[0]) == "java"


def _is_python(pid: int) -> bool:
    command = command_line(pid)
    return bool(command) and os.path.basename(command[0]).startswith("python")


def spark_pids(driver_pid: int) -> tuple[list[int], list[int]]:
    """(Spark JVMs, Python workers) of a local-mode driver.

    The JVM (SparkSubmit) is a java child of the driver's Python process; the workers are the
    Python processes below that JVM: pyspark.daemon and the workers it forks.
    """
    jvms = [pid for pid in children(driver_pid, recursive=False) if _is_java(pid)]
    workers = [pid for jvm in jvms for pid in children(jvm) if _is_python(pid)]
    return jvms, workers


def service_pids(name: str, config: Config) -> list[int]:
    """The live processes of the Elasticsearch or Tika service (launcher and server JVMs).

    First those Trawl's own pid files record (see pipeline/services.py); failing that, any
    process whose command line names the service, with its descendants.
    """
    from pipeline import services

    pid_files = {"elasticsearch": [services.elasticsearch_pid_file(config),
                                   services.elasticsearch_server_pid_file(config)],
                 "tika": [services.tika_pid_file(config)]}[name]
    owned = services.owned_pids(pid_files, name)
    if owned:
        return owned
    marker = SERVICE_MARKERS[name]
    found = [int(entry.name) for entry in Path("/proc").iterdir()
             if entry.name.isdigit() and any(marker in part for part in command_line(int(entry.name)))]
    return list(dict.fromkeys(found + [child for pid in found for child in children(pid)]))


class RssSampler:
    """Peak RSS per group of processes, sampled every `interval` seconds while the block runs."""

    def __init__(self, groups: dict[str, PidSource], interval: float = 0.25):
        self.groups = groups
        self.interval = interval
        self.peak_total = {name: 0 for name in groups}
        self.peak_largest = {name: 0 for name in groups}
        self.seen: dict[str, set[int]] = {name: set() for name in groups}
        self.samples = 0
        self._timeline: list[tuple[float, dict[str, int]]] = []  # (time.monotonic(), bytes per group)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> "RssSampler":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        totals = {}
        for name, pids_of in self.groups.items():
            try:
                pids = list(dict.fromkeys(pids_of()))
            except Exception:  # a group's source failing (pid file mid-rewrite) skips one tick
                continue
            sizes = {pid: rss_bytes(pid) for pid in pids}
            sizes = {pid: size for pid, size in sizes.items() if size is not None}
            self.seen[name].update(sizes)
            totals[name] = sum(sizes.values())
            self.peak_total[name] = max(self.peak_total[name], totals[name])
            self.peak_largest[name] = max(self.peak_largest[name], max(sizes.values(), default=0))
        self._timeline.append((time.monotonic(), totals))
        self.samples += 1

    def peak_rss_mb(self) -> dict[str, float]:
        """Per group, the peak of the group's summed RSS, in MiB."""
        return {name: round(size / MIB, 1) for name, size in self.peak_total.items()}

    def peak_single_mb(self) -> dict[str, float]:
        """Per group, the peak RSS of its largest single process, in MiB."""
        return {name: round(size / MIB, 1) for name, size in self.peak_largest.items()}

    def peaks_between(self, start: float, end: float) -> dict[str, float]:
        """Per group, the peak summed RSS in MiB over the samples taken between two
        `time.monotonic()` readings."""
        window = [totals for when, totals in self._timeline if start <= when <= end]
        return {name: round(max((totals.get(name, 0) for totals in window), default=0) / MIB, 1)
                for name in self.groups}

    def timeline(self) -> list[dict[str, Any]]:
        """Every sample: its `time.monotonic()` and each group's summed RSS in MiB."""
        return [{"t": round(when, 3), "mb": {name: round(size / MIB, 1) for name, size in totals.items()}}
                for when, totals in self._timeline]


@contextlib.contextmanager
def timed(name: str, seconds: dict[str, float]) -> Iterator[None]:
    """Record the block's wall time under `name` in `seconds`, even if it raises."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = time.perf_counter() - start


def run_apart(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in a fresh Python process of its own (spawned, not forked), and its
    result. The bench measures the Spark driver as the RSS of the process that runs Trawl, and
    a Python process keeps what earlier work left in it: the Python heap, and the one JVM
    PySpark starts per process and keeps across Spark sessions, with the classes, compiled code
    and heap of every run before. Run apart, each measured run starts from nothing."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
        return child.submit(function, *args).result()

