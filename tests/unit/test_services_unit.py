"""Unit tests for pipeline.services and pipeline.artifacts: no servers, no Maven."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from pipeline import artifacts, services
from pipeline.config import Config, load_config
from pipeline.errors import ArtifactError


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def open_tmp_path() -> Iterator[Path]:
    """Like tmp_path, but every user may walk into it, as into a normal checkout (pytest's
    own temporary folders are mode 700, which would send the ES files elsewhere)."""
    folder = Path(tempfile.mkdtemp(prefix="trawl-unit-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def config(open_tmp_path: Path) -> Config:
    tmp_path = open_tmp_path
    base = load_config()
    es_node = dataclasses.replace(base.elasticsearch.node, host="127.0.0.1",
                                  http_port=_free_port(), transport_port=_free_port(), heap="512m")
    tika_node = dataclasses.replace(base.tika.node, host="127.0.0.1", port=_free_port(), heap="768m")
    return base.replace(
        paths=dataclasses.replace(base.paths, state_dir=tmp_path / "state", cache_dir=tmp_path / "cache"),
        elasticsearch=dataclasses.replace(base.elasticsearch, node=es_node),
        tika=dataclasses.replace(base.tika, node=tika_node),
    )


# --- elasticsearch.yml -------------------------------------------------------------------------


def test_elasticsearch_yml_switches_off_disk_watermarks_and_uses_configured_network(config: Config) -> None:
    settings = yaml.safe_load(services.render_elasticsearch_yml(config))
    node = config.elasticsearch.node
    assert settings["cluster.routing.allocation.disk.threshold_enabled"] is False
    assert settings["network.host"] == node.host
    assert settings["http.port"] == node.http_port
    assert settings["transport.port"] == node.transport_port
    assert settings["discovery.type"] == "single-node"
    assert settings["cluster.name"] == "trawl"


def test_elasticsearch_yml_keeps_data_and_logs_under_the_state_dir(config: Config) -> None:
    settings = yaml.safe_load(services.render_elasticsearch_yml(config))
    state = config.paths.state_dir
    assert Path(settings["path.data"]) == state / "services" / "elasticsearch" / "data"
    assert Path(settings["path.logs"]) == state / "services" / "elasticsearch" / "logs"


def test_elasticsearch_yml_disables_security_so_the_integ_test_zip_does_not_autoconfigure_tls(
        config: Config) -> None:
    assert yaml.safe_load(services.render_elasticsearch_yml(config))["xpack.security.enabled"] is False


def test_elasticsearch_yml_follows_a_changed_port(config: Config) -> None:
    node = dataclasses.replace(config.elasticsearch.node, http_port=19999)
    changed = config.replace(elasticsearch=dataclasses.replace(config.elasticsearch, node=node))
    assert yaml.safe_load(services.render_elasticsearch_yml(changed))["http.port"] == 19999


def test_write_elasticsearch_config_copies_distribution_files_and_drops_autoconfigured_secrets(
        config: Config, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "config" / "jvm.options.d").mkdir(parents=True)
    (home / "config" / "jvm.options").write_text("-XX:+UseG1GC\n")
    (home / "config" / "elasticsearch.yml").write_text("cluster.name: not-ours\n")
    target = services.elasticsearch_config_dir(config)
    (target / "certs").mkdir(parents=True)
    (target / "elasticsearch.keystore").write_bytes(b"left by security auto-configuration")
    (target / "elasticsearch.keystore.tmp").write_bytes(b"left by a start killed mid-write")

    services.write_elasticsearch_config(config, home)

    assert (target / "jvm.options").read_text() == "-XX:+UseG1GC\n"
    assert (target / "jvm.options.d").is_dir()
    assert yaml.safe_load((target / "elasticsearch.yml").read_text())["cluster.name"] == "trawl"
    assert not (target / "elasticsearch.keystore").exists()
    assert not (target / "elasticsearch.keystore.tmp").exists()
    assert not (target / "certs").exists()


def test_elasticsearch_environment_sets_heap_and_config_and_drops_stray_java_options(config: Config) -> None:
    env = services.elasticsearch_environment(
        config, "/opt/jdk", None, {"PATH": "/usr/bin", "JAVA_TOOL_OPTIONS": "-Xmx99g", "JAVA_HOME": "/x"})
    assert env["ES_JAVA_OPTS"] == "-Xms512m -Xmx512m"
    assert env["ES_JAVA_HOME"] == "/opt/jdk"
    assert env["ES_PATH_CONF"] == str(services.elasticsearch_config_dir(config))
    assert "JAVA_TOOL_OPTIONS" not in env and "JAVA_HOME" not in env
    assert env["PATH"] == "/usr/bin"


def test_unpacking_keeps_the_executable_bit(tmp_path: Path) -> None:
    archive = tmp_path / "dist.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        script = zipfile.ZipInfo("es/bin/elasticsearch")
        script.external_attr = (stat.S_IFREG | 0o755) << 16
        bundle.writestr(script, "#!/bin/sh\n")
        plain = zipfile.ZipInfo("es/config/jvm.options")
        plain.external_attr = (stat.S_IFREG | 0o644) << 16
        bundle.writestr(plain, "")
    services.unpack_zip_preserving_modes(archive, tmp_path / "out")
    assert os.access(tmp_path / "out/es/bin/elasticsearch", os.X_OK)
    assert not os.access(tmp_path / "out/es/config/jvm.options", os.X_OK)


# --- tika --------------------------------------------------------------------------------------


def test_tika_heap_goes_to_the_forked_parser(config: Config) -> None:
    assert "<arg>-Xmx768m</arg>" in services.render_tika_config(config)


def test_tika_command_binds_the_configured_host_and_port(config: Config, tmp_path: Path) -> None:
    command = services.tika_command(config, "/usr/bin/java", tmp_path / "tika.jar")
    node = config.tika.node
    assert command[command.index("--host") + 1] == node.host
    assert command[command.index("--port") + 1] == str(node.port)
    assert command[command.index("-jar") + 1] == str(tmp_path / "tika.jar")


# --- artifacts ---------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_verify_sha256_accepts_an_intact_file(tmp_path: Path) -> None:
    path = tmp_path / "a.jar"
    path.write_bytes(b"genuine")
    artifacts.verify_sha256(path, _sha256(b"genuine"))
    assert path.exists()


def test_verify_sha256_rejects_and_deletes_a_tampered_file(tmp_path: Path) -> None:
    path = tmp_path / "a.jar"
    path.write_bytes(b"tampered")
    expected = _sha256(b"genuine")
    with pytest.raises(ArtifactError) as caught:
        artifacts.verify_sha256(path, expected)
    assert expected in str(caught.value)
    assert _sha256(b"tampered") in str(caught.value)
    assert not path.exists()


def test_artifact_coordinates_follow_the_configured_versions(config: Config) -> None:
    assert artifacts.elasticsearch_artifact(config).coordinates == (
        f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{config.elasticsearch.node.version}:zip")
    assert artifacts.tika_artifact(config).coordinates == (
        f"org.apache.tika:tika-server-standard:{config.tika.node.version}:jar")


def test_a_cached_artifact_is_reused_without_running_maven(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    artifact = artifacts.MavenArtifact("g", "a", "1.0", "jar")
    (tmp_path / artifact.file_name).write_bytes(b"cached")

    def no_fetch(*args: object) -> Path:
        raise AssertionError("mvn must not run when the artifact is cached")

    monkeypatch.setattr(artifacts, "fetch_with_maven", no_fetch)
    assert artifacts.ensure_artifact(artifact, _sha256(b"cached"), tmp_path) == tmp_path / artifact.file_name


def _fake_fetch(content: bytes):
    def fetch(artifact: artifacts.MavenArtifact, output_dir: Path) -> Path:
        path = output_dir / artifact.file_name
        path.write_bytes(content)
        return path
    return fetch


def test_a_fetched_artifact_is_moved_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    artifact = artifacts.MavenArtifact("g", "a", "1.0", "jar")
    monkeypatch.setattr(artifacts, "fetch_with_maven", _fake_fetch(b"fresh"))
    path = artifacts.ensure_artifact(artifact, _sha256(b"fresh"), tmp_path / "cache")
    assert path.read_bytes() == b"fresh"
    assert [entry.name for entry in (tmp_path / "cache").iterdir()] == [artifact.file_name]


def test_a_fetch_with_the_wrong_hash_leaves_nothing_in_the_cache(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    artifact = artifacts.MavenArtifact("g", "a", "1.0", "jar")
    monkeypatch.setattr(artifacts, "fetch_with_maven", _fake_fetch(b"evil"))
    with pytest.raises(ArtifactError):
        artifacts.ensure_artifact(artifact, _sha256(b"good"), tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_failing_mvn_is_reported_with_its_error_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_mvn = tmp_path / "mvn"
    fake_mvn.write_text("#!/bin/sh\n"
                        "echo '[ERROR] Failed to execute goal: artifact not found'\n"
                        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo \"[ERROR] help $i\"; done\n"
                        "exit 1\n")
    fake_mvn.chmod(0o755)
    monkeypatch.setattr(artifacts.shutil, "which", lambda name: str(fake_mvn) if name == "mvn" else None)
    with pytest.raises(ArtifactError) as caught:
        artifacts.fetch_with_maven(artifacts.MavenArtifact("g", "a", "1.0", "jar"), tmp_path / "out")
    message = str(caught.value)
    assert "Failed to execute goal: artifact not found" in message
    assert message.endswith("[ERROR] help 20")
    assert "exit code 1" in message


def test_missing_mvn_is_an_artifact_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts.shutil, "which", lambda name: None)
    with pytest.raises(ArtifactError, match="not on PATH"):
        artifacts.fetch_with_maven(artifacts.MavenArtifact("g", "a", "1.0", "jar"), tmp_path)


def test_mvn_output_summary_strips_colour_codes() -> None:
    summary = artifacts.summarize_mvn_output("\x1b[0m\x1b[0m[ERROR] boom\x1b[0m\n\n")
    assert summary == "[ERROR] boom"


# --- logs and failure messages -----------------------------------------------------------------


def test_tail_lines_returns_the_last_n_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert services.tail_lines(log, 3) == ["line 97", "line 98", "line 99"]


def test_tail_lines_skips_what_was_there_before_the_start(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("old run\n")
    offset = services.log_offset(log)
    with log.open("a") as handle:
        handle.write("new run\n")
    assert services.tail_lines(log, 30, offset) == ["new run"]


def test_tail_lines_drops_trailing_blank_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("ERROR: Elasticsearch died\n\n\n")
    assert services.tail_lines(log, 2) == ["ERROR: Elasticsearch died"]


def test_tail_lines_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert services.tail_lines(tmp_path / "absent.log") == []


def test_failure_message_ends_with_the_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "es.log"
    log.write_text("".join(f"boot {i}\n" for i in range(50)) + "could not find java in ES_JAVA_HOME\n")
    message = services.startup_failure_message("elasticsearch", "the process exited", [(log, 0)], count=5)
    assert message.startswith("elasticsearch did not start: the process exited")
    assert message.splitlines()[-5:] == ["boot 46", "boot 47", "boot 48", "boot 49",
                                         "could not find java in ES_JAVA_HOME"]
    assert "boot 45" not in message


def test_failure_message_says_when_logs_are_empty(tmp_path: Path) -> None:
    message = services.startup_failure_message("tika", "not healthy after 4 s", [(tmp_path / "none.log", 0)])
    assert "logs are empty" in message


# --- processes ---------------------------------------------------------------------------------


def test_a_pid_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "x.pid"
    services.write_pid_file(path, [12, 34])
    assert services.read_pid_file(path) == [12, 34]
    assert services.read_pid_file(tmp_path / "absent.pid") == []


def test_a_non_java_process_is_never_taken_for_ours() -> None:
    # This test runner is alive but is python, as any reused pid would be something else.
    assert services.is_alive(os.getpid())
    assert not services.looks_like_our_service(os.getpid(), "tika")


def test_down_with_a_stale_pid_file_signals_nothing_and_clears_it(config: Config) -> None:
    config.paths.services_dir.mkdir(parents=True)
    services.write_pid_file(services.tika_pid_file(config), [os.getpid()])
    services.write_pid_file(services.elasticsearch_pid_file(config), [os.getpid()])

    statuses = {status.name: status for status in services.down(config)}

    assert not services.tika_pid_file(config).exists()
    assert not services.elasticsearch_pid_file(config).exists()
    assert statuses["tika"].running is False
    assert "stale pid file" in statuses["tika"].detail
    assert "stale pid file" in statuses["elasticsearch"].detail


def test_down_with_nothing_running_is_a_clear_no_op(config: Config) -> None:
    statuses = services.down(config)
    assert [status.name for status in statuses] == ["elasticsearch", "tika"]
    assert all(not status.running and status.detail == "not running" for status in statuses)


def test_status_of_an_external_cluster_never_claims_a_process(config: Config) -> None:
    port = config.elasticsearch.node.http_port
    external = dataclasses.replace(config.elasticsearch, embedded=False, url=f"http://127.0.0.1:{port}")
    status = services.elasticsearch_status(config.replace(elasticsearch=external))
    assert status.running is False and status.pid is None and status.healthy is False
    assert status.detail.startswith("external")


def test_wait_until_healthy_stops_when_the_process_exits() -> None:
    probe, why = services.wait_until_healthy(lambda: services.Probe(False, None, "refused"),
                                             lambda: False, timeout=30, poll_seconds=0)
    assert probe is None and why == "the process exited"


def test_wait_until_healthy_gives_up_after_the_timeout() -> None:
    probe, why = services.wait_until_healthy(lambda: services.Probe(False, None, "refused"),
                                             lambda: True, timeout=0, poll_seconds=0)
    assert probe is None and "not healthy after 0 s" in why and "refused" in why


def test_wait_until_healthy_returns_the_healthy_probe() -> None:
    answers = iter([services.Probe(False, None, "starting"), services.Probe(True, "9.2.0", "green")])
    probe, why = services.wait_until_healthy(lambda: next(answers), lambda: True, timeout=30, poll_seconds=0)
    assert probe == services.Probe(True, "9.2.0", "green") and why == ""


# --- probes ------------------------------------------------------------------------------------


def test_probe_of_a_closed_port_is_unhealthy(config: Config) -> None:
    probe = services.probe_elasticsearch(f"http://127.0.0.1:{config.elasticsearch.node.http_port}")
    assert probe.healthy is False and probe.version is None
    assert "not answering" in probe.detail


def test_es_files_leave_a_state_dir_the_es_user_cannot_reach(config: Config, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    locked.chmod(0o700)
    hidden = config.replace(paths=dataclasses.replace(config.paths, state_dir=locked / "var"))
    assert services.others_can_traverse(config.paths.services_dir)
    assert not services.others_can_traverse(hidden.paths.services_dir)
    if os.geteuid() == 0:
        assert services.elasticsearch_dir(hidden).parent == services.UNREACHABLE_STATE_FALLBACK
        assert services.elasticsearch_dir(config) == config.paths.services_dir / "elasticsearch"
    else:
        assert services.elasticsearch_dir(hidden) == hidden.paths.services_dir / "elasticsearch"


def test_a_classified_maven_artifact_names_its_classifier() -> None:
    tests_jar = artifacts.MavenArtifact("org.apache.tika", "tika-parser-microsoft-module", "3.2.2",
                                        "jar", "tests")
    assert tests_jar.coordinates == "org.apache.tika:tika-parser-microsoft-module:3.2.2:jar:tests"
    assert tests_jar.file_name == "tika-parser-microsoft-module-3.2.2-tests.jar"


def test_an_npm_tarball_is_named_as_npm_pack_names_it() -> None:
    assert artifacts.NpmPackage("pst-extractor", "1.12.0").file_name == "pst-extractor-1.12.0.tgz"
    assert artifacts.NpmPackage("@scope/name", "2.0.1").file_name == "scope-name-2.0.1.tgz"


def test_a_failing_npm_is_reported_with_its_last_lines(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npm = tmp_path / "npm"
    fake_npm.write_text("#!/bin/sh\necho 'npm error 404 Not Found - pst-extractor@9.9.9'\nexit 1\n")
    fake_npm.chmod(0o755)
    monkeypatch.setattr(artifacts.shutil, "which",
                        lambda name: str(fake_npm) if name == "npm" else None)
    (tmp_path / "out").mkdir()
    with pytest.raises(ArtifactError) as caught:
        artifacts.ensure_artifact(artifacts.NpmPackage("pst-extractor", "9.9.9"), "0" * 64,
                                  tmp_path / "out")
    assert "404 Not Found" in str(caught.value)
    assert "pst-extractor@9.9.9" in str(caught.value)
    assert [path.name for path in (tmp_path / "out").iterdir()] == []


def test_a_pypi_sdist_is_named_as_pip_downloads_it() -> None:
    sdist = artifacts.PypiSdist("rarfile", "4.2", "0" * 64)
    assert (sdist.coordinates, sdist.file_name) == ("rarfile==4.2", "rarfile-4.2.tar.gz")
    assert artifacts.PypiSdist("extract-msg", "0.55.0", "0" * 64).file_name == \
        "extract_msg-0.55.0.tar.gz"

