"""Broker, database and cache for integration tests.

Two ways to get them, chosen once per test session:

* Docker engine answers and ``TELESALES_TEST_INFRA`` is not ``local``: throwaway
  testcontainers (Kafka, MongoDB 7 as a single-node replica set, Redis), removed at the end.
* Otherwise (``TELESALES_TEST_INFRA=local``, or no engine, as on this project's machines):
  the native local stack, ``deploy/local/stack.py up --infra-only``. It is idempotent: if the
  stack already answers (CI starts it before pytest) nothing is started and nothing is
  stopped; if this session had to start it, it is stopped again at the end unless
  ``TELESALES_TEST_KEEP_STACK=1``. The session uses the stack's MongoDB and Redis but a fresh
  Apache Kafka node of its own (stopped at the end), so services started by ``make up`` never
  see the tests' events.

``TELESALES_TEST_INFRA=docker`` forces containers (and fails without an engine).

Only the standard library is imported at module level; testcontainers and pymongo are
imported when (and only when) infrastructure is actually started.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from .auth import auth_headers

KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.1"
MONGO_IMAGE = "mongo:7"
REDIS_IMAGE = "redis:7"

STACK_UP_TIMEOUT_S = 300


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    mongo_uri: str
    redis_url: str

    def as_env(self) -> dict[str, str]:
        """The service settings variables that point at this infrastructure
        (e.g. ``for k, v in infra.as_env().items(): monkeypatch.setenv(k, v)``)."""
        return {
            "TELESALES_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "TELESALES_MONGO_URI": self.mongo_uri,
            "TELESALES_REDIS_URL": self.redis_url,
        }


class InfraError(RuntimeError):
    pass


Stop = Callable[[], None]


# ----------------------------------------------------------------------------- choice
def docker_engine_available(timeout: float = 5.0) -> bool:
    """True if a Docker engine answers (``docker info``, else the docker SDK's ping)."""
    if shutil.which("docker"):
        try:
            return (
                subprocess.run(
                    ["docker", "info"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=timeout,
                ).returncode
                == 0
            )
        except (subprocess.TimeoutExpired, OSError):
            return False
    try:
        import docker  # lazy: the docker SDK comes with testcontainers

        return bool(docker.from_env(timeout=int(timeout)).ping())
    except Exception:
        return False


def start_infra() -> tuple[Infra, Stop]:
    mode = os.environ.get("TELESALES_TEST_INFRA", "").strip().lower()
    if mode == "local":
        return start_local_stack()
    if mode == "docker":
        if not docker_engine_available():
            raise InfraError("TELESALES_TEST_INFRA=docker but no Docker engine answers (`docker info` failed)")
        return start_containers()
    if docker_engine_available():
        return start_containers()
    return start_local_stack()


# ----------------------------------------------------------------------------- local stack
def repo_root() -> Path:
    """The repository holding deploy/local/stack.py: found from this file, else from git."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "local" / "stack.py").is_file():
            return parent
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        top = ""
    if top and (Path(top) / "deploy" / "local" / "stack.py").is_file():
        return Path(top)
    raise InfraError(f"cannot find deploy/local/stack.py above {here} nor in the git work tree of {Path.cwd()}")


def stack_script() -> Path:
    return repo_root() / "deploy" / "local" / "stack.py"


def _run_stack(*args: str, timeout: float = STACK_UP_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(stack_script()), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(repo_root()),
    )


def load_stack_module() -> Any:
    """deploy/local/stack.py as a module (standard library only at import): addresses, broker binary, probes."""
    spec = importlib.util.spec_from_file_location("_telesales_local_stack", stack_script())
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)  # stdlib-only at import time
    finally:
        sys.modules.pop(spec.name, None)
    return module


def local_stack_infra() -> Infra:
    """The addresses of the local stack (same env overrides and defaults as stack.py)."""
    env = load_stack_module().stack_env()
    return Infra(
        kafka_bootstrap=env["TELESALES_KAFKA_BOOTSTRAP"],
        mongo_uri=env["TELESALES_MONGO_URI"],
        redis_url=env["TELESALES_REDIS_URL"],
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"    (no log at {path})"
    return "\n".join("    " + line for line in text[-lines:]) or "    (log is empty)"


class PrivateBroker:
    """An Apache Kafka node of its own (the stack's build and settings, deploy/local/kafka_node.py) on free
    ports with a data folder under `workdir`, as this process's child, the contracts' topics created: for one
    test session or benchmark run only (no other consumer, no history). Fault tests SIGKILL it, freeze it and
    start it again on the same ports and data, as a crashed broker comes back."""

    def __init__(self, workdir: Path, partitions: int = 3) -> None:
        self.workdir = workdir
        self.log_path = workdir / "kafka.log"
        self.partitions = partitions
        self.proc: subprocess.Popen[bytes] | None = None
        self.node: Any = None

    @property
    def port(self) -> int:
        return self.node.port if self.node is not None else 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> str:
        """Start (the first time: format, then create the topics) and wait until it serves every topic."""
        stack = load_stack_module()
        if self.node is None:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.node = stack.kafka_node.KafkaNode(data_dir=self.workdir / "kafka", port=free_port(),
                                                   controller_port=free_port(),
                                                   cache_dir=stack.local_dir() / "kafka")
        argv = self.node.prepare()
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start at {datetime.now(UTC).isoformat()}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not stack.kafka_answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise InfraError(f"private broker did not answer on port {self.port}; log {self.log_path}:\n"
                                 f"{log_tail(self.log_path)}")
            time.sleep(0.1)
        try:
            stack.kafka_node.create_topics(self.bootstrap, stack.contract_topics(), self.partitions,
                                           timeout=max(1.0, deadline - time.monotonic()))
        except stack.kafka_node.KafkaError as error:
            self.stop()
            raise InfraError(f"private broker on port {self.port}: {error}; log {self.log_path}:\n"
                             f"{log_tail(self.log_path)}") from None
        return self.bootstrap

    def kill(self) -> None:
        """SIGKILL: no controlled shutdown, as a crash or a lost machine."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM: a controlled shutdown (SIGKILL after a minute)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)  # a frozen node could not act on the SIGTERM
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()

    def remove(self) -> None:
        """Stop and delete its data (the log stays)."""
        self.stop()
        shutil.rmtree(self.workdir / "kafka", ignore_errors=True)


class PrivateMongo:
    """A mongod of its own (the stack's binary and settings, one-node replica set "rs0") on a free port
    with a data folder under `workdir`, run in the foreground as this process's child: fault tests stop,
    kill and restart it (same port, same data) without touching the stack's MongoDB."""

    def __init__(self, workdir: Path, cache_gb: str = "0.5") -> None:
        self.dbpath = workdir / "mongodb"
        self.log_path = workdir / "mongodb.log"
        self.cache_gb = cache_gb
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?replicaSet=rs0"

    def start(self, timeout: float = 90.0) -> str:
        """Start (or start again, on the same port and data) and wait until it is the writable primary."""
        stack = load_stack_module()
        self.port = self.port or free_port()
        self.dbpath.mkdir(parents=True, exist_ok=True)
        argv = stack.mongod_argv(stack.mongod_bin(), self.port, self.dbpath, self.log_path, self.cache_gb)
        self.proc = subprocess.Popen(argv, cwd=repo_root(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            stack.initiate_replica_set(self.port, self.log_path, timeout=timeout)
        except Exception as error:
            self.kill()
            raise InfraError(f"private MongoDB did not come up on port {self.port}: {error}") from None
        return self.uri

    def kill(self) -> None:
        """SIGKILL: no shutdown, as a crash or a lost machine."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class ServiceProcess:
    """A service run as a real uvicorn process (`<module>.main:create_app_from_env`) with `env`, its output
    appended to `log`: tests kill it with SIGKILL and start it again on the same port."""

    name: str
    module: str
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.name} runs already"
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n===== start {self.starts} at {datetime.now(UTC).isoformat()}\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", f"{self.module}.main:create_app_from_env",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def wait_ready(self, timeout: float = 90, path: str = "/readyz") -> float:
        """Seconds until `path` answered 200."""
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            while time.monotonic() - started < timeout:
                assert self.alive(), f"{self.name} exited:\n{self.tail()}"
                try:
                    if (await http.get(path)).status_code == 200:
                        return time.monotonic() - started
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name}: {path} not 200 within {timeout}s\n{self.tail()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def tail(self) -> str:
        return log_tail(self.log, 80)

    def client(self, tenant: str = "default", role: str = "admin") -> httpx.AsyncClient:
        headers = {**auth_headers(role, "test-client", tenant=tenant), "X-Tenant-Id": tenant}
        return httpx.AsyncClient(base_url=self.base_url, timeout=30, headers=headers)



def start_local_stack() -> tuple[Infra, Stop]:
    already_up = _run_stack("status", timeout=60).returncode == 0
    if not already_up:
        up = _run_stack("up", "--infra-only")
        if up.returncode != 0:
            raise InfraError(
                f"`{stack_script()} up --infra-only` failed with exit code {up.returncode}:\n"
                f"{up.stdout}\n{up.stderr}"
            )
    # The stack's MongoDB and Redis, but a broker of the session's own: services that `make up` started on
    # the stack's broker consume the same topics and would process the tests' events too.
    broker = PrivateBroker(Path(tempfile.mkdtemp(prefix=f"telesales-test-broker-{os.getpid()}-")))
    infra = replace(local_stack_infra(), kafka_bootstrap=broker.start())

    def stop() -> None:
        broker.remove()
        if already_up or os.environ.get("TELESALES_TEST_KEEP_STACK", "").strip() in ("1", "true", "yes"):
            return
        _run_stack("down", timeout=120)

    return infra, stop


# ----------------------------------------------------------------------------- containers
def _wait_mongo_replica_set(uri: str, member_host: str, timeout: float = 90.0) -> None:
    """Initiate a single-node replica set "rs0" and wait until it is the writable primary."""
    import pymongo
    from pymongo.errors import OperationFailure

    deadline = time.monotonic() + timeout
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        while True:
            try:
                hello = client.admin.command("hello")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise InfraError(f"MongoDB container at {uri} does not answer") from None
                time.sleep(0.5)
        if not hello.get("setName"):
            try:
                client.admin.command(
                    "replSetInitiate", {"_id": "rs0", "members": [{"_id": 0, "host": member_host}]}
                )
            except OperationFailure as exc:
                if exc.code != 23:  # AlreadyInitialized
                    raise
        while not client.admin.command("hello").get("isWritablePrimary"):
            if time.monotonic() > deadline:
                raise InfraError(f"MongoDB container at {uri} never became the primary of rs0")
            time.sleep(0.3)
    finally:
        client.close()


def start_containers() -> tuple[Infra, Stop]:
    try:  # testcontainers >= 4.14 moved the modules under .community
        from testcontainers.community.kafka import KafkaContainer
        from testcontainers.community.redis import RedisContainer
    except ImportError:
        from testcontainers.kafka import KafkaContainer
        from testcontainers.redis import RedisContainer
    from testcontainers.core.container import DockerContainer

    started: list = []

    def stop() -> None:
        for container in reversed(started):
            try:
                container.stop()
            except Exception:
                pass
        started.clear()

    try:
        kafka = KafkaContainer(KAFKA_IMAGE)
        kafka.start(timeout=120)
        started.append(kafka)

        # The replica set's member host is the container's own view (localhost:27017); from the
        # host we reach the mapped port with directConnection=true, so that name never matters.
        mongo = DockerContainer(MONGO_IMAGE).with_command("--replSet rs0 --bind_ip_all").with_exposed_ports(27017)
        mongo.start()
        started.append(mongo)
        mongo_uri = f"mongodb://{mongo.get_container_host_ip()}:{mongo.get_exposed_port(27017)}/?directConnection=true"
        _wait_mongo_replica_set(mongo_uri, member_host="localhost:27017")

        redis = RedisContainer(REDIS_IMAGE)
        redis.start()
        started.append(redis)
        redis_url = f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
    except BaseException:
        stop()
        raise

    return Infra(kafka_bootstrap=kafka.get_bootstrap_server(), mongo_uri=mongo_uri, redis_url=redis_url), stop
