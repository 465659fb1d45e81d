"""Start, stop and probe the local Elasticsearch node and Tika server that Trawl runs for itself.

Everything a service needs at run time lives under `paths.state_dir`/services: an unpacked ES home,
its config, data and logs, Tika's logs, and one pid file per service. Only processes recorded in
those pid files (and still looking like the java process we started) are ever signalled.

When Trawl runs as root, Elasticsearch (which refuses to run as root) is started as the system user
`elasticsearch.node.run_as`; that is why its distribution is unpacked under the state dir rather
than used from the download cache, which may sit in root's private home.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import yaml

from pipeline.artifacts import ensure_elasticsearch, ensure_tika
from pipeline.config import Config
from pipeline.errors import ServiceError
from pipeline.ids import stable_id

Progress = Callable[[str], None]

ELASTICSEARCH = "elasticsearch"
TIKA = "tika"
LOG_LINES_IN_ERRORS = 30
STOP_TIMEOUT_SECONDS = 30.0
PROBE_TIMEOUT_SECONDS = 5.0
HEALTH_POLL_SECONDS = 1.0
# Tika's forked-process watchdog only relays requests; the configured heap goes to the parser child.
TIKA_WATCHDOG_HEAP = "256m"
UNREACHABLE_STATE_FALLBACK = Path("/var/lib/trawl/elasticsearch")


def _ignore_progress(message: str) -> None:
    pass


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    url: str
    running: bool
    healthy: bool
    version: str | None
    pid: int | None
    detail: str


@dataclass(frozen=True)
class Probe:
    healthy: bool
    version: str | None
    detail: str


# ---------------------------------------------------------------------------------------------
# Public API


def up(config: Config, progress: Progress = _ignore_progress) -> list[ServiceStatus]:
    """Start whichever embedded services are not already running and healthy; return both statuses."""
    with _services_lock(config):
        return [_elasticsearch_up(config, progress), _tika_up(config, progress)]


def down(config: Config, progress: Progress = _ignore_progress) -> list[ServiceStatus]:
    """Stop the services Trawl started (and only those); return both statuses afterwards."""
    with _services_lock(config):
        return [_elasticsearch_down(config, progress), _tika_down(config, progress)]


def status(config: Config) -> list[ServiceStatus]:
    """Whether each service is running (from our pid files) and healthy, with its version."""
    return [elasticsearch_status(config), tika_status(config)]


# ---------------------------------------------------------------------------------------------
# Layout under the state dir


def elasticsearch_dir(config: Config) -> Path:
    """Under the state dir, unless ES would run as another user who cannot reach it.

    A checkout under /root (mode 700) is the usual case: the ES user could never enter it, so
    the node's files go to a folder of their own under /var/lib/trawl instead, named after the
    state dir so each checkout keeps its own node.
    """
    local = config.paths.services_dir / ELASTICSEARCH
    if running_as_root() and not others_can_traverse(config.paths.services_dir):
        return UNREACHABLE_STATE_FALLBACK / stable_id(str(local))[:12]
    return local


def others_can_traverse(directory: Path) -> bool:
    """Whether a user who owns nothing on the way (the ES user) can walk down to `directory`."""
    for ancestor in [*reversed(directory.parents), directory]:
        if ancestor.exists() and not ancestor.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def elasticsearch_home(config: Config) -> Path:
    return elasticsearch_dir(config) / f"home-{config.elasticsearch.node.version}"


def elasticsearch_config_dir(config: Config) -> Path:
    return elasticsearch_dir(config) / "config"


def elasticsearch_data_dir(config: Config) -> Path:
    return elasticsearch_dir(config) / "data"


def elasticsearch_logs_dir(config: Config) -> Path:
    return elasticsearch_dir(config) / "logs"


def elasticsearch_tmp_dir(config: Config) -> Path:
    return elasticsearch_dir(config) / "tmp"


def elasticsearch_stdout_log(config: Config) -> Path:
    return elasticsearch_logs_dir(config) / "elasticsearch.stdout.log"


def elasticsearch_pid_file(config: Config) -> Path:
    return config.paths.services_dir / "elasticsearch.pid"


def elasticsearch_server_pid_file(config: Config) -> Path:
    # Written by ES itself (`-p`), so it must sit where the ES user may write.
    return elasticsearch_dir(config) / "server.pid"


def tika_dir(config: Config) -> Path:
    return config.paths.services_dir / TIKA


def tika_logs_dir(config: Config) -> Path:
    return tika_dir(config) / "logs"


def tika_stdout_log(config: Config) -> Path:
    return tika_logs_dir(config) / "tika.stdout.log"


def tika_config_file(config: Config) -> Path:
    return tika_dir(config) / "tika-config.xml"


def tika_pid_file(config: Config) -> Path:
    return config.paths.services_dir / "tika.pid"


def elasticsearch_local_url(config: Config) -> str:
    node = config.elasticsearch.node
    return f"http://{node.host}:{node.http_port}"


def tika_local_url(config: Config) -> str:
    node = config.tika.node
    return f"http://{node.host}:{node.port}"


@contextlib.contextmanager
def _services_lock(config: Config) -> Iterator[None]:
    # Two `trawl services up` at once would both see nothing running and race for the ports.
    config.paths.services_dir.mkdir(parents=True, exist_ok=True)
    with open(config.paths.services_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------
# Logs


def tail_lines(path: Path, count: int = LOG_LINES_IN_ERRORS, start_offset: int = 0) -> list[str]:
    """The last `count` lines of a file written after byte `start_offset`; [] if there are none."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            # Reading at most the last megabyte keeps this cheap on a long-lived log.
            begin = max(start_offset, size - (1 << 20), 0)
            handle.seek(begin)
            data = handle.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if begin > start_offset and lines:
        lines = lines[1:]  # the first line read from mid-file is a fragment
    while lines and not lines[-1].strip():
        lines.pop()
    return lines[-count:] if count > 0 else []


def log_offset(path: Path) -> int:
    """Current size of a log, so that a later tail shows only what this start wrote."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def startup_failure_message(service: str, reason: str, logs: Sequence[tuple[Path, int]],
                            count: int = LOG_LINES_IN_ERRORS) -> str:
    """An error message that ends with the last lines each log gained since the start began.

    A log whose tail is already shown (ES's console copy of its own log file) is left out.
    """
    parts = [f"{service} did not start: {reason}"]
    shown: set[str] = set()
    for path, offset in logs:
        lines = tail_lines(path, count, offset)
        if lines and not set(lines) <= shown:
            parts.append(f"--- last {len(lines)} lines of {path} ---")
            parts.extend(lines)
            shown.update(lines)
    if len(parts) == 1:
        parts.append("(its logs are empty: " + ", ".join(str(path) for path, _ in logs) + ")")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Our processes


def read_pid_file(path: Path) -> list[int]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    return [int(token) for token in text.split() if token.isdigit()]


def write_pid_file(path: Path, pids: Sequence[int]) -> None:
    # Renamed into place so a reader never sees an empty pid file.
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(f"{pid}\n" for pid in pids), encoding="utf-8")
    os.replace(partial, path)


def _process_state(pid: int) -> str | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()[0]


# Services outlive the call that starts them. Holding their Popen objects keeps Python from warning
# that a running child was dropped, and lets a later down() in the same process reap them.
_started_children: dict[int, subprocess.Popen[bytes]] = {}


def _reap_if_our_child(pid: int) -> None:
    # A child of this very process (started by `up` earlier in the same run) stays a zombie until reaped.
    child = _started_children.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _started_children[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int) -> bool:
    _reap_if_our_child(pid)
    state = _process_state(pid)
    return state is not None and state not in ("Z", "X")


def process_command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", errors="replace") for part in raw.split(b"\0") if part]


def looks_like_our_service(pid: int, service: str) -> bool:
    """True if pid is a live java process whose command line names the service.

    Guards against pid reuse: a pid file can outlive its process, and the number can be handed to
    anything else afterwards.
    """
    if not is_alive(pid):
        return False
    command = process_command_line(pid)
    if not command:
        return False
    executable = os.path.basename(command[0])
    return executable == "java" and any(service in part.lower() for part in command[1:])


def _process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _process_group(int(entry.name)) == pgid:
            members.append(int(entry.name))
    return members


def owned_pids(pid_files: Sequence[Path], service: str) -> list[int]:
    """Live processes of this service that we started: the pids recorded in our pid files, plus
    the other members of the process group we created (ES's server JVM, Tika's forked parser)."""
    recorded = [pid for path in pid_files for pid in read_pid_file(path)]
    candidates = list(dict.fromkeys(recorded))
    if recorded:
        leader = recorded[0]
        candidates.extend(pid for pid in _group_members(leader) if pid not in candidates)
    return [pid for pid in candidates if looks_like_our_service(pid, service)]


def _send(pids: Sequence[int], leader: int | None, sig: int) -> None:
    signalled_group = False
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if leader is not None and _process_group(pid) == leader:
                if not signalled_group:
                    os.killpg(leader, sig)
                    signalled_group = True
            else:
                os.kill(pid, sig)


def _wait_for_exit(pids: Sequence[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    remaining = [pid for pid in pids if is_alive(pid)]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.2)
        remaining = [pid for pid in remaining if is_alive(pid)]
    return remaining


def stop_processes(pids: Sequence[int], leader: int | None,
                   timeout: float = STOP_TIMEOUT_SECONDS) -> list[int]:
    """SIGTERM (to our process group where the pid is in it), then SIGKILL whatever outlives timeout.

    Returns the pids that were still alive even after SIGKILL.
    """
    if not pids:
        return []
    _send(pids, leader, signal.SIGTERM)
    survivors = _wait_for_exit(pids, timeout)
    if survivors:
        _send(survivors, leader, signal.SIGKILL)
        survivors = _wait_for_exit(survivors, 5.0)
    return survivors


def _stop_service(service: str, pid_files: Sequence[Path], progress: Progress) -> str:
    pids = owned_pids(pid_files, service)
    recorded = [pid for path in pid_files for pid in read_pid_file(path)]
    leader = recorded[0] if recorded else None
    if not pids:
        for path in pid_files:
            path.unlink(missing_ok=True)
        return "not running" + (" (removed a stale pid file)" if recorded else "")
    progress(f"{service}: stopping pid(s) {', '.join(map(str, pids))}")
    survivors = stop_processes(pids, leader)
    if survivors:
        raise ServiceError(f"{service}: pid(s) {', '.join(map(str, survivors))} survived SIGKILL")
    for path in pid_files:
        path.unlink(missing_ok=True)
    progress(f"{service}: stopped")
    return f"stopped pid(s) {', '.join(map(str, pids))}"


def _first_owned_pid(pid_files: Sequence[Path], service: str) -> int | None:
    pids = owned_pids(pid_files, service)
    return pids[0] if pids else None


def port_is_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def _require_free_ports(service: str, host: str, ports: dict[str, int]) -> None:
    busy = [f"{name} {port}" for name, port in ports.items() if port_is_open(host, port)]
    if busy:
        raise ServiceError(
            f"{service}: {' and '.join(busy)} on {host} already in use by a process Trawl did not "
            f"start; stop it, change the {service} node ports in the config, or set "
            f"{service}.embedded: false and point {service}.url at it")


# ---------------------------------------------------------------------------------------------
# HTTP probes


def http_get(url: str, *, timeout: float = PROBE_TIMEOUT_SECONDS, headers: dict[str, str] | None = None,
             context: ssl.SSLContext | None = None) -> tuple[int, str]:
    """(status code, body) for a GET; raises OSError when nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})
    # No proxies from the environment: a proxy cannot reach our loopback node, and the
    # Elasticsearch client ignores them too, so a probe should see what the pipeline will see.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")
    except http.client.HTTPException as exc:
        # Something that is not an HTTP server (or not yet one) holds the port.
        raise OSError(f"no HTTP answer ({type(exc).__name__}: {exc})") from exc


def _short_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


def _elasticsearch_auth_headers(config: Config) -> dict[str, str]:
    es = config.elasticsearch
    if es.api_key:
        return {"Authorization": f"ApiKey {es.api_key}"}
    if es.username:
        token = base64.b64encode(f"{es.username}:{es.password or ''}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


def _elasticsearch_ssl_context(config: Config) -> ssl.SSLContext | None:
    es = config.elasticsearch
    if not es.url.startswith("https"):
        return None
    context = ssl.create_default_context(cafile=es.ca_certs)
    if not es.verify_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def elasticsearch_version(base_url: str, headers: dict[str, str] | None = None,
                          context: ssl.SSLContext | None = None) -> str | None:
    """The node's version. Raises OSError when nothing answers."""
    code, body = http_get(base_url + "/", headers=headers, context=context)
    if code == 200:
        with contextlib.suppress(ValueError, AttributeError):
            return json.loads(body).get("version", {}).get("number")
    # The integ-test-zip lacks the rest-root module, so its GET / answers 405; the nodes API has it too.
    code, body = http_get(base_url + "/_nodes/_local?filter_path=nodes.*.version",
                          headers=headers, context=context)
    if code == 200:
        with contextlib.suppress(ValueError, AttributeError, LookupError, StopIteration, TypeError):
            return next(iter(json.loads(body)["nodes"].values()))["version"]
    return None


def probe_elasticsearch(base_url: str, headers: dict[str, str] | None = None,
                        context: ssl.SSLContext | None = None) -> Probe:
    base_url = base_url.rstrip("/")
    try:
        version = elasticsearch_version(base_url, headers, context)
        code, body = http_get(base_url + "/_cluster/health?wait_for_status=yellow&timeout=1s",
                              headers=headers, context=context)
    except (OSError, ValueError) as exc:
        return Probe(False, None, f"not answering at {base_url}: {_short_reason(exc)}")
    if code not in (200, 408):  # 408: the wait for yellow timed out; the body still has the colour
        return Probe(False, version, f"GET /_cluster/health answered HTTP {code}: {body[:200].strip()}")
    try:
        health = json.loads(body)
    except ValueError:
        health = {}
    colour = health.get("status", "unknown")
    healthy = code == 200 and colour in ("green", "yellow") and not health.get("timed_out", False)
    return Probe(healthy, version, f"cluster health {colour}")


def probe_tika(base_url: str) -> Probe:
    base_url = base_url.rstrip("/")
    try:
        code, body = http_get(base_url + "/version")
    except OSError as exc:
        return Probe(False, None, f"not answering at {base_url}: {_short_reason(exc)}")
    if code != 200:
        return Probe(False, None, f"GET /version answered HTTP {code}")
    text = body.strip()  # e.g. "Apache Tika 3.2.2"
    return Probe(True, text.split()[-1] if text else None, text or "answering")


def wait_until_healthy(probe: Callable[[], Probe], still_starting: Callable[[], bool],
                       timeout: float, poll_seconds: float = HEALTH_POLL_SECONDS) -> tuple[Probe | None, str]:
    """Poll until healthy. Returns (probe, "") on success, (None, why) if the process died or time ran out."""
    deadline = time.monotonic() + timeout
    last = Probe(False, None, "no answer yet")
    while True:
        last = probe()
        if last.healthy:
            return last, ""
        if not still_starting():
            return None, "the process exited"
        if time.monotonic() >= deadline:
            return None, f"not healthy after {timeout:g} s (last probe: {last.detail})"
        time.sleep(poll_seconds)


# ---------------------------------------------------------------------------------------------
# Elasticsearch


def elasticsearch_settings(config: Config) -> dict[str, object]:
    node = config.elasticsearch.node
    return {
        "cluster.name": "trawl",
        "node.name": "trawl-node",
        "network.host": node.host,
        "http.port": node.http_port,
        "transport.port": node.transport_port,
        "discovery.type": "single-node",
        "path.data": str(elasticsearch_data_dir(config)),
        "path.logs": str(elasticsearch_logs_dir(config)),
        # Nearly full disks are common on laptops and CI; the watermarks would make indices read-only.
        "cluster.routing.allocation.disk.threshold_enabled": False,
        # The integ-test-zip ships the security module enabled; without TLS and users set up, every
        # request would be refused. This node only listens on the configured (loopback) host.
        "xpack.security.enabled": False,
    }


def render_elasticsearch_yml(config: Config) -> str:
    header = "# Written by Trawl (pipeline/services.py) on every `trawl services up`; edits are lost.\n"
    return header + yaml.safe_dump(elasticsearch_settings(config), sort_keys=False, default_flow_style=False)


def _safe_member_path(root: Path, name: str) -> Path:
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ServiceError(f"refusing to unpack {name!r}: it points outside {root}")
    return target


def unpack_zip_preserving_modes(archive: Path, destination: Path) -> None:
    """Extract a zip, keeping the Unix permission bits that zipfile drops (bin/ must stay executable)."""
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            target = _safe_member_path(destination, member.filename)
            bundle.extract(member, destination)
            mode = (member.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode)


def ensure_elasticsearch_home(config: Config, progress: Progress) -> Path:
    home = elasticsearch_home(config)
    if (home / "bin" / "elasticsearch").is_file():
        return home
    archive = ensure_elasticsearch(config)
    progress(f"elasticsearch: unpacking {archive.name} into {home}")
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = home.with_name(home.name + ".unpacking")
    shutil.rmtree(staging, ignore_errors=True)
    unpack_zip_preserving_modes(archive, staging)
    tops = list(staging.iterdir())
    # The zip holds one top folder, elasticsearch-<version>/; it becomes home-<version>.
    unpacked = tops[0] if len(tops) == 1 and tops[0].is_dir() else staging
    shutil.rmtree(home, ignore_errors=True)
    os.replace(unpacked, home)
    shutil.rmtree(staging, ignore_errors=True)
    return home


def write_elasticsearch_config(config: Config, home: Path) -> Path:
    """Our own ES_PATH_CONF: the distribution's defaults plus an elasticsearch.yml from the config."""
    target = elasticsearch_config_dir(config)
    target.mkdir(parents=True, exist_ok=True)
    for source in (home / "config").iterdir():
        if source.name == "elasticsearch.yml":
            continue
        if source.is_dir():
            shutil.copytree(source, target / source.name, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target / source.name)
    (target / "elasticsearch.yml").write_text(render_elasticsearch_yml(config), encoding="utf-8")
    remove_stale_keystore(target)
    return target


def remove_stale_keystore(config_dir: Path) -> None:
    """Drop the keystore (and TLS certificates) an earlier start left behind.

    A keystore written by ES's security auto-configuration holds TLS passwords that make a node with
    security disabled refuse to boot; a start killed while ES wrote it leaves a .tmp file that makes
    the next start fail. Trawl keeps no secrets there, and ES creates an empty keystore on start.
    """
    for name in ("elasticsearch.keystore", "elasticsearch.keystore.tmp"):
        (config_dir / name).unlink(missing_ok=True)
    shutil.rmtree(config_dir / "certs", ignore_errors=True)


def elasticsearch_java_home(config: Config) -> str:
    configured = config.elasticsearch.node.java_home
    if configured:
        return configured
    # The integ-test-zip has no bundled JDK, so without a configured one use the java on PATH.
    java = shutil.which("java")
    if java is None:
        raise ServiceError("elasticsearch: set elasticsearch.node.java_home (Java 21 or later); "
                           "no java on PATH either")
    return str(Path(java).resolve().parent.parent)


def elasticsearch_environment(config: Config, java_home: str, run_as_home: Path | None,
                              base: dict[str, str]) -> dict[str, str]:
    heap = config.elasticsearch.node.heap
    env = {key: value for key, value in base.items()
           if key not in ("JAVA_HOME", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "ES_HOME")}
    env.update({
        "ES_JAVA_HOME": java_home,
        "ES_PATH_CONF": str(elasticsearch_config_dir(config)),
        "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
        "ES_TMPDIR": str(elasticsearch_tmp_dir(config)),
    })
    if run_as_home is not None:
        user = config.elasticsearch.node.run_as
        env.update({"HOME": str(run_as_home), "USER": user, "LOGNAME": user})
    return env


def running_as_root() -> bool:
    return os.geteuid() == 0


def ensure_system_user(name: str, progress: Progress) -> pwd.struct_passwd:
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    progress(f"elasticsearch: creating system user {name} (Elasticsearch refuses to run as root)")
    result = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if result.returncode != 0:
        raise ServiceError(f"could not create the system user {name}: {result.stdout.strip()}")
    return pwd.getpwnam(name)


def user_can_traverse(user: str, directory: Path) -> bool:
    result = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(directory)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return result.returncode == 0


def require_user_can_reach(user: str, directory: Path) -> None:
    if user_can_traverse(user, directory):
        return
    blocked = next((ancestor for ancestor in reversed(directory.parents)
                    if not user_can_traverse(user, ancestor)), directory)
    raise ServiceError(
        f"elasticsearch runs as the user {user} (it refuses to run as root), but {user} cannot "
        f"enter {blocked} (mode {stat.filemode(blocked.stat().st_mode)}), so it cannot reach {directory}. "
        f"Set paths.state_dir in a config overlay to a location {user} can read, e.g. under /var/lib or /srv")


def chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def elasticsearch_status(config: Config) -> ServiceStatus:
    es = config.elasticsearch
    if not es.embedded:
        probe = probe_elasticsearch(es.url, _elasticsearch_auth_headers(config), _elasticsearch_ssl_context(config))
        return ServiceStatus(ELASTICSEARCH, es.url, False, probe.healthy, probe.version, None,
                             f"external (embedded: false); {probe.detail}")
    url = elasticsearch_local_url(config)
    pid = _first_owned_pid(_elasticsearch_pid_files(config), ELASTICSEARCH)
    probe = probe_elasticsearch(url)
    detail = probe.detail if pid is not None or not probe.healthy else \
        f"{probe.detail}; answering, but not a node Trawl started"
    return ServiceStatus(ELASTICSEARCH, url, pid is not None, probe.healthy, probe.version, pid, detail)


def _elasticsearch_pid_files(config: Config) -> list[Path]:
    # Ours first: its first pid is the process-group leader we created.
    return [elasticsearch_pid_file(config), elasticsearch_server_pid_file(config)]


def _wait_for_running_service(service: str, status_of: Callable[[Config], ServiceStatus], config: Config,
                              timeout: int, logs: Sequence[tuple[Path, int]],
                              progress: Progress) -> ServiceStatus:
    """A service of ours that is running but not (yet) healthy, maybe still starting: wait for it."""
    progress(f"{service}: already running but not healthy yet; waiting up to {timeout} s")
    deadline = time.monotonic() + timeout
    current = status_of(config)
    while current.running and not current.healthy and time.monotonic() < deadline:
        time.sleep(HEALTH_POLL_SECONDS)
        current = status_of(config)
    if current.healthy:
        return current
    raise ServiceError(startup_failure_message(
        service, f"the running instance (pid {current.pid}) is not healthy: {current.detail}; "
                 "`trawl services down` stops it", logs))


def _elasticsearch_up(config: Config, progress: Progress) -> ServiceStatus:
    es = config.elasticsearch
    if not es.embedded:
        progress(f"elasticsearch: embedded is false; using the cluster at {es.url}")
        return elasticsearch_status(config)
    current = elasticsearch_status(config)
    if current.running:
        if current.healthy:
            progress(f"elasticsearch: already running (pid {current.pid}), {current.detail}")
            return current
        return _wait_for_running_service(ELASTICSEARCH, elasticsearch_status, config, es.node.start_timeout,
                                         [(elasticsearch_stdout_log(config), 0)], progress)
    for path in _elasticsearch_pid_files(config):
        path.unlink(missing_ok=True)
    node = es.node
    _require_free_ports(ELASTICSEARCH, node.host, {"http port": node.http_port,
                                                   "transport port": node.transport_port})
    return start_elasticsearch(config, progress)


def start_elasticsearch(config: Config, progress: Progress) -> ServiceStatus:
    node = config.elasticsearch.node
    base_dir = elasticsearch_dir(config)
    base_dir.mkdir(parents=True, exist_ok=True)
    account = None
    if running_as_root():
        account = ensure_system_user(node.run_as, progress)
        if base_dir != config.paths.services_dir / ELASTICSEARCH:
            progress(f"elasticsearch: {node.run_as} cannot reach {config.paths.services_dir}; "
                     f"keeping the node's files in {base_dir}")
        require_user_can_reach(node.run_as, base_dir)
    home = ensure_elasticsearch_home(config, progress)
    write_elasticsearch_config(config, home)
    for folder in (elasticsearch_data_dir(config), elasticsearch_logs_dir(config), elasticsearch_tmp_dir(config)):
        folder.mkdir(parents=True, exist_ok=True)
    stdout_log = elasticsearch_stdout_log(config)
    # In the foreground ES copies its own log to the console, so this one file holds both the
    # launcher's errors (bad java, bad settings) and the server's.
    logs = [(stdout_log, 0)]
    with stdout_log.open("wb") as log_handle:
        if account is not None:
            # Every start, so a home unpacked or config rewritten as root stays usable by the ES user.
            chown_tree(base_dir, account.pw_uid, account.pw_gid)
        env = elasticsearch_environment(config, elasticsearch_java_home(config),
                                        base_dir if account is not None else None, dict(os.environ))
        command = [str(home / "bin" / "elasticsearch"), "-p", str(elasticsearch_server_pid_file(config))]
        who = f" as user {node.run_as}" if account is not None else ""
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                command, cwd=base_dir, env=env, stdin=subprocess.DEVNULL, stdout=log_handle,
                stderr=subprocess.STDOUT, start_new_session=True,
                user=account.pw_uid if account is not None else None,
                group=account.pw_gid if account is not None else None,
                extra_groups=[] if account is not None else None)
        except OSError as exc:
            raise ServiceError(f"elasticsearch: could not run {command[0]}: {exc}") from exc
    _started_children[process.pid] = process
    write_pid_file(elasticsearch_pid_file(config), [process.pid])
    progress(f"elasticsearch: started pid {process.pid}{who}; waiting up to {node.start_timeout} s "
             f"for {elasticsearch_local_url(config)}")
    url = elasticsearch_local_url(config)
    probe, why = wait_until_healthy(lambda: probe_elasticsearch(url), lambda: process.poll() is None,
                                    node.start_timeout)
    if probe is None:
        _abandon_start(process.pid, _elasticsearch_pid_files(config), ELASTICSEARCH)
        raise ServiceError(startup_failure_message(ELASTICSEARCH, why, logs))
    server_pids = read_pid_file(elasticsearch_server_pid_file(config))
    write_pid_file(elasticsearch_pid_file(config), [process.pid, *server_pids])
    progress(f"elasticsearch: healthy after {time.monotonic() - started:.1f} s "
             f"(version {probe.version}, {probe.detail})")
    return ServiceStatus(ELASTICSEARCH, url, True, True, probe.version, process.pid, probe.detail)


def _abandon_start(leader: int, pid_files: Sequence[Path], service: str) -> None:
    # The leader is the process we just spawned, so it is ours even before its command line says java.
    pids = list(dict.fromkeys([leader] + owned_pids(pid_files, service)))
    stop_processes([pid for pid in pids if is_alive(pid)], leader)
    _reap_if_our_child(leader)
    for path in pid_files:
        path.unlink(missing_ok=True)


def _elasticsearch_down(config: Config, progress: Progress) -> ServiceStatus:
    es = config.elasticsearch
    if not es.embedded:
        current = elasticsearch_status(config)
        return _with_detail(current, f"external (embedded: false); not managed by Trawl; {current.detail}")
    outcome = _stop_service(ELASTICSEARCH, _elasticsearch_pid_files(config), progress)
    return _with_detail(elasticsearch_status(config), outcome)


def _with_detail(current: ServiceStatus, detail: str) -> ServiceStatus:
    return dataclasses.replace(current, detail=detail)


# ---------------------------------------------------------------------------------------------
# Tika


def render_tika_config(config: Config) -> str:
    heap = config.tika.node.heap
    # Tika 2+ parses in a forked child JVM; its heap is set here, not on the watchdog's command line.
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<!-- Written by Trawl (pipeline/services.py) on every `trawl services up`. -->\n"
            "<properties>\n"
            "  <server>\n"
            "    <params>\n"
            "      <forkedJvmArgs>\n"
            f"        <arg>-Xmx{heap}</arg>\n"
            "      </forkedJvmArgs>\n"
            "    </params>\n"
            "  </server>\n"
            "</properties>\n")


def tika_java(config: Config) -> str:
    java_home = config.tika.node.java_home
    if java_home:
        java = Path(java_home) / "bin" / "java"
        if not os.access(java, os.X_OK):
            raise ServiceError(f"tika: no java at {java} (tika.node.java_home is {java_home})")
        return str(java)
    java_on_path = shutil.which("java")
    if java_on_path is None:
        raise ServiceError("tika: no java on PATH; install Java 11+ or set tika.node.java_home")
    return java_on_path


def tika_command(config: Config, java: str, jar: Path) -> list[str]:
    node = config.tika.node
    return [java, f"-Xmx{TIKA_WATCHDOG_HEAP}", "-jar", str(jar), "--host", node.host,
            "--port", str(node.port), "--config", str(tika_config_file(config))]


def tika_status(config: Config) -> ServiceStatus:
    tika = config.tika
    if not tika.embedded:
        probe = probe_tika(tika.url)
        return ServiceStatus(TIKA, tika.url, False, probe.healthy, probe.version, None,
                             f"external (embedded: false); {probe.detail}")
    url = tika_local_url(config)
    pid = _first_owned_pid([tika_pid_file(config)], TIKA)
    probe = probe_tika(url)
    detail = probe.detail if pid is not None or not probe.healthy else \
        f"{probe.detail}; answering, but not a server Trawl started"
    return ServiceStatus(TIKA, url, pid is not None, probe.healthy, probe.version, pid, detail)


def _tika_up(config: Config, progress: Progress) -> ServiceStatus:
    tika = config.tika
    if not tika.embedded:
        progress(f"tika: embedded is false; using the server at {tika.url}")
        return tika_status(config)
    current = tika_status(config)
    if current.running:
        if current.healthy:
            progress(f"tika: already running (pid {current.pid}), {current.detail}")
            return current
        return _wait_for_running_service(TIKA, tika_status, config, tika.node.start_timeout,
                                         [(tika_stdout_log(config), 0)], progress)
    tika_pid_file(config).unlink(missing_ok=True)
    _require_free_ports(TIKA, tika.node.host, {"port": tika.node.port})
    return start_tika(config, progress)


def start_tika(config: Config, progress: Progress) -> ServiceStatus:
    node = config.tika.node
    java = tika_java(config)
    jar = ensure_tika(config)
    tika_logs_dir(config).mkdir(parents=True, exist_ok=True)
    tika_config_file(config).write_text(render_tika_config(config), encoding="utf-8")
    stdout_log = tika_stdout_log(config)
    command = tika_command(config, java, jar)
    url = tika_local_url(config)
    started = time.monotonic()
    with stdout_log.open("wb") as log_handle:
        try:
            # As the current user even under root: the jar may sit in root's private cache.
            process = subprocess.Popen(command, cwd=tika_dir(config), stdin=subprocess.DEVNULL,
                                       stdout=log_handle, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise ServiceError(f"tika: could not run {java}: {exc}") from exc
    _started_children[process.pid] = process
    write_pid_file(tika_pid_file(config), [process.pid])
    progress(f"tika: started pid {process.pid}; waiting up to {node.start_timeout} s for {url}")
    probe, why = wait_until_healthy(lambda: probe_tika(url), lambda: process.poll() is None, node.start_timeout)
    if probe is None:
        _abandon_start(process.pid, [tika_pid_file(config)], TIKA)
        raise ServiceError(startup_failure_message(TIKA, why, [(stdout_log, 0)]))
    progress(f"tika: healthy after {time.monotonic() - started:.1f} s ({probe.detail})")
    return ServiceStatus(TIKA, url, True, True, probe.version, process.pid, probe.detail)


def _tika_down(config: Config, progress: Progress) -> ServiceStatus:
    tika = config.tika
    if not tika.embedded:
        current = tika_status(config)
        return _with_detail(current, f"external (embedded: false); not managed by Trawl; {current.detail}")
    outcome = _stop_service(TIKA, [tika_pid_file(config)], progress)
    return _with_detail(tika_status(config), outcome)
