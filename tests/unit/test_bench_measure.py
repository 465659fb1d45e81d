"""Tier 1: the benchmark's /proc sampling sees real processes and the memory they hold."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from pipeline.bench.measure import RssSampler, children, rss_bytes, spark_pids, timed

MIB = 1024 * 1024
# Touches every page of 200 MiB, says so, then waits to be killed.
ALLOCATE_200_MIB = ("import sys, time; block = bytearray(200 * 1024 * 1024); "
                    "block[::4096] = b'x' * len(block[::4096]); print('ready', flush=True); time.sleep(60)")
# Starts a grandchild that sleeps, prints its pid, then waits.
SPAWN_GRANDCHILD = ("import subprocess, sys, time; child = subprocess.Popen([sys.executable, '-c', "
                    "'import time; time.sleep(60)']); print(child.pid, flush=True); time.sleep(60)")


def start(code: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


@pytest.fixture
def child_holding_200_mib():
    process, said = start(ALLOCATE_200_MIB)
    assert said == "ready"
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def child_with_grandchild():
    process, said = start(SPAWN_GRANDCHILD)
    yield process, int(said)
    for pid in (int(said), process.pid):
        os.kill(pid, 9)
    process.wait()


def test_sampler_sees_a_child_holding_200_mib(child_holding_200_mib):
    with RssSampler({"children": lambda: children(os.getpid()),
                     "this process": lambda: [os.getpid()]}, interval=0.05) as sampler:
        time.sleep(0.3)
    assert child_holding_200_mib.pid in sampler.seen["children"]
    assert sampler.peak_rss_mb()["children"] >= 180
    assert sampler.peak_single_mb()["children"] >= 180
    # The pytest process itself holds nowhere near 200 MiB more than it did.
    assert sampler.peak_rss_mb()["this process"] < sampler.peak_rss_mb()["children"]
    assert sampler.samples >= 3


def test_sampler_keeps_the_peak_after_the_process_has_gone(child_holding_200_mib):
    with RssSampler({"children": lambda: children(os.getpid())}, interval=0.05) as sampler:
        time.sleep(0.2)
        child_holding_200_mib.kill()
        child_holding_200_mib.wait()
        time.sleep(0.2)
    assert rss_bytes(child_holding_200_mib.pid) is None
    assert sampler.peak_rss_mb()["children"] >= 180


def test_group_sum_adds_processes_while_single_peak_does_not():
    first, _ = start(ALLOCATE_200_MIB)
    second, _ = start(ALLOCATE_200_MIB)
    try:
        with RssSampler({"both": lambda: [first.pid, second.pid]}, interval=0.05) as sampler:
            time.sleep(0.2)
    finally:
        for process in (first, second):
            process.kill()
            process.wait()
    assert sampler.peak_rss_mb()["both"] >= 360
    assert 180 <= sampler.peak_single_mb()["both"] < 300


def test_children_finds_a_grandchild_only_when_recursive(child_with_grandchild):
    process, grandchild = child_with_grandchild
    assert process.pid in children(os.getpid(), recursive=False)
    assert grandchild not in children(os.getpid(), recursive=False)
    assert grandchild in children(os.getpid())
    assert children(process.pid) == [grandchild]


def test_spark_pids_finds_the_jvm_child_and_the_python_workers_under_it(child_with_grandchild):
    python_child, python_grandchild = child_with_grandchild
    # A stand-in JVM: a process whose argv[0] is "java", which starts a Python worker.
    starts_worker = f'{sys.executable} -c "import time; time.sleep(60)" & echo $!; wait'
    jvm = subprocess.Popen(["bash", "-c", 'exec -a java bash -c "$0"', starts_worker],
                           stdout=subprocess.PIPE, text=True)
    worker = int(jvm.stdout.readline())
    try:
        jvms, workers = spark_pids(os.getpid())
    finally:
        for pid in (worker, jvm.pid):
            os.kill(pid, 9)
        jvm.wait()
    # Other JVMs may be running under this process (a Spark session of another test tier).
    assert jvm.pid in jvms and python_child.pid not in jvms
    assert worker in workers
    assert not {python_child.pid, python_grandchild} & set(workers)


def test_timed_records_wall_seconds_even_when_the_block_raises():
    seconds: dict[str, float] = {}
    with pytest.raises(RuntimeError):
        with timed("failing", seconds):
            time.sleep(0.05)
            raise RuntimeError("boom")
    assert 0.05 <= seconds["failing"] < 1


def test_peaks_between_sees_only_the_samples_in_its_window(child_holding_200_mib):
    with RssSampler({"children": lambda: [child_holding_200_mib.pid]}, interval=0.05) as sampler:
        time.sleep(0.2)
        killed = time.monotonic()
        child_holding_200_mib.kill()
        child_holding_200_mib.wait()
        time.sleep(0.2)
    assert sampler.peaks_between(0, killed)["children"] >= 180
    assert sampler.peaks_between(killed + 0.1, time.monotonic())["children"] == 0
    timeline = sampler.timeline()
    assert len(timeline) == sampler.samples
    assert max(sample["mb"]["children"] for sample in timeline) >= 180
    assert [sample["t"] for sample in timeline] == sorted(sample["t"] for sample in timeline)
