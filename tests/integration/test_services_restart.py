"""Tier 3: `trawl services down`, then `up`, then `trawl run` leaves identical stats."""

import email.message
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import services
from pipeline.stats import case_stats

pytestmark = pytest.mark.integration


def write_case(root: Path) -> Path:
    folder = root / "evidence"
    folder.mkdir()
    for number in range(3):
        message = email.message.EmailMessage()
        message["From"] = f"officer{number}@force.example"
        message["To"] = "standards@force.example"
        message["Subject"] = f"Complaint update {number}"
        message["Message-ID"] = f"<update{number}@force.example>"
        message["Date"] = f"Mon, 0{number + 1} Apr 2019 09:00:00 +0100"
        message.set_content(f"Update {number} on the complaint.")
        (folder / f"update{number}.eml").write_bytes(message.as_bytes())
    manifest = root / "case.yaml"
    manifest.write_text(f"case: test-restart\nsources:\n  - custodian: Standards Unit\n"
                        f"    paths: [{folder}]\n")
    return manifest


def trawl(*args: str, config_path: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline.cli", "--config", str(config_path), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def test_restarted_services_and_rerun_leave_identical_stats(es_client, test_config, tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"paths:\n  cases_dir: {tmp_path / 'cases'}\n")
    manifest = write_case(tmp_path)

    first = trawl("run", str(manifest), "--json", config_path=overlay)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["indexed"] == summary["staged"] == 3 and summary["reconciled"]
    before = case_stats(es_client, test_config.elasticsearch, "test-restart")

    stopped = services.down(test_config)
    assert not any(status.healthy for status in stopped)
    started = services.up(test_config)
    assert all(status.healthy for status in started)

    again = trawl("run", str(manifest), "--json", config_path=overlay)
    assert again.returncode == 0, again.stderr[-3000:]
    after = case_stats(es_client, test_config.elasticsearch, "test-restart")
    assert after == before
    assert before["by_custodian"] == {"Standards Unit": {"total": 3, "unique": 3}}


def test_status_reports_the_real_servers_versions(es_client, test_config):
    from pipeline.index.client import client_major_version

    by_name = {status.name: status for status in services.status(test_config)}
    elasticsearch, tika = by_name["elasticsearch"], by_name["tika"]
    assert elasticsearch.healthy and elasticsearch.running
    assert int(elasticsearch.version.split(".")[0]) == client_major_version()
    assert elasticsearch.version == test_config.elasticsearch.node.version
    assert tika.healthy and tika.version == test_config.tika.node.version
