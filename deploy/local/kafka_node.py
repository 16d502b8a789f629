#!/usr/bin/env python3
"""Apache Kafka for the local stack, the tests and the benchmarks: one KRaft node that is broker and
controller at once, on 127.0.0.1, from the Maven Central artifacts named in deploy/local/kafka/pom.xml.

    python deploy/local/kafka_node.py resolve    fetch the broker with Maven (into ~/.m2), print its version

`stack.py` runs the stack's node (data under .local/, kept across `down`/`up`); the tests and benchmarks run
private nodes through `KafkaNode` (telesales_testkit.infra). Only the standard library is imported
here; the topics are created with aiokafka, imported when they are.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

HOST = "127.0.0.1"
KAFKA_BUILD = Path(__file__).resolve().parent / "kafka"
POM = KAFKA_BUILD / "pom.xml"
LOG4J_CONFIG = KAFKA_BUILD / "log4j2.yaml"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = REPO_ROOT / ".local" / "kafka"

# A small heap is plenty on one node: Kafka keeps records in the OS page cache, not on its heap.
DEFAULT_HEAP = os.environ.get("TELESALES_KAFKA_HEAP", "512m").strip() or "512m"
JVM_OPTIONS = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
               "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true"]

# What differs from a production broker, each for one node on a developer's machine: replication factors of
# 1 for the internal topics, no wait before the first rebalance of a group, a restarted node back sooner,
# fewer partitions of the internal topics (created at the first group or transaction, which then waits for
# them), and topics only from the contracts' registry (a misspelt topic name fails instead of creating a
# topic nobody reads).
LOCAL_SETTINGS: dict[str, str] = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "10",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "10",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    # A restarted node registers again only once the controller has given up its previous session: 4 s, not 9.
    "broker.heartbeat.interval.ms": "1000",
    "broker.session.timeout.ms": "4000",
    "auto.create.topics.enable": "false",
    "num.partitions": "3",
    "num.network.threads": "2",
    "num.io.threads": "4",
    "log.retention.hours": "168",
}


class KafkaError(Exception):
    pass


# ----------------------------------------------------------------------------- the broker's class path
def java_bin() -> str:
    home = os.environ.get("JAVA_HOME", "").strip()
    candidate = Path(home) / "bin" / "java" if home else None
    found = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
    if not found:
        raise KafkaError("java not found: Apache Kafka 4 needs Java 17 or newer (apt-get install -y openjdk-17-jre-headless)")
    return found


def _pom_stamp() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()[:16]


def classpath(cache_dir: Path = DEFAULT_CACHE, *, quiet: bool = True) -> str:
    """The broker's class path: the jars Maven resolved for deploy/local/kafka/pom.xml into ~/.m2. Resolved
    once per version of the pom (and again when a jar went missing from the Maven cache)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = cache_dir / f"classpath-{_pom_stamp()}.txt"
    if cached.is_file():
        path = cached.read_text().strip()
        if path and all(Path(jar).is_file() for jar in path.split(os.pathsep)):
            return path
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaError("mvn not found: the local broker comes from Maven Central (apt-get install -y maven)")
    partial = cached.with_suffix(".partial")
    argv = [mvn, "-B", *(["-q"] if quiet else []), "-f", str(POM), "dependency:build-classpath",
            f"-Dmdep.outputFile={partial}"]
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not partial.is_file():
        raise KafkaError(f"Maven could not resolve Apache Kafka ({' '.join(argv)} exited {done.returncode}):\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    partial.replace(cached)
    return cached.read_text().strip()


def version(path: str) -> str:
    """The version of the broker on the class path (from its jar's name, kafka_2.13-<version>.jar)."""
    for jar in path.split(os.pathsep):
        name = Path(jar).name
        if name.startswith("kafka_2.13-") and name.endswith(".jar"):
            return name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return "unknown"


def new_cluster_id() -> str:
    """A KRaft cluster id as Kafka makes them: 16 random bytes, URL-safe base64, no padding, not starting
    with '-' (which a command line would take for an option)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


# ----------------------------------------------------------------------------- one node
@dataclass
class KafkaNode:
    """One combined broker+controller. Its data folder is formatted on the first start and reused after
    (a restart finds its topics, records, committed offsets and producer ids where it left them)."""

    data_dir: Path
    port: int
    controller_port: int
    cache_dir: Path = DEFAULT_CACHE
    heap: str = DEFAULT_HEAP
    overrides: Mapping[str, str] = field(default_factory=dict)
    format_args: tuple[str, ...] = ()  # e.g. ("--add-scram", "SCRAM-SHA-512=[name=u,password=p]")

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    def properties(self) -> dict[str, str]:
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            **LOCAL_SETTINGS,
            **self.overrides,
        }

    def write_properties(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{key}={value}\n" for key, value in self.properties().items())
        self.properties_file.write_text("# written by deploy/local/kafka_node.py at every start\n" + text)

    def formatted(self) -> bool:
        return (self.log_dir / "meta.properties").is_file()

    def argv(self, main: str = "kafka.Kafka", *args: str) -> list[str]:
        return [java_bin(), f"-Xms{min_heap(self.heap)}", f"-Xmx{self.heap}", *JVM_OPTIONS,
                f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "-cp", classpath(self.cache_dir), main, *args]

    def prepare(self) -> list[str]:
        """Write the configuration, format the storage if this folder was never formatted, and return the
        command that runs the node."""
        self.write_properties()
        if not self.formatted():
            done = subprocess.run(self.argv("kafka.tools.StorageTool", "format", "--cluster-id", new_cluster_id(),
                                            "--config", str(self.properties_file), "--ignore-formatted",
                                            *self.format_args),
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
            if done.returncode != 0 or not self.formatted():
                raise KafkaError(f"formatting {self.log_dir} failed (exit {done.returncode}):\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return self.argv("kafka.Kafka", str(self.properties_file))


def min_heap(heap: str) -> str:
    """The starting heap: a quarter of the most, so an idle node stays small."""
    units = {"k": 1, "m": 1024, "g": 1024 * 1024}
    try:
        kib = int(heap[:-1]) * units[heap[-1].lower()]
    except (ValueError, KeyError, IndexError):
        return heap
    return f"{max(64 * 1024, kib // 4) // 1024}m"


# ----------------------------------------------------------------------------- topics
def create_topics(bootstrap: str, names: Iterable[str], partitions: int, *, timeout: float = 60.0,
                  client_options: Mapping[str, object] | None = None) -> list[str]:
    """Create the missing topics (replication 1) and wait until the broker serves them; returns those created.
    Retries while the node is still starting (its first answers can be 'not controller' or time-outs)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from telesales_contracts.topics import broker_config

    wanted = list(dict.fromkeys(names))

    async def attempt() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **(client_options or {}))
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [name for name in wanted if name not in existing]
            if missing:
                answer = await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=broker_config(name))
                                                    for name in missing])
                failed = [(t[0], t[1]) for t in answer.topic_errors if t[1] not in (0, 36)]  # 36: exists already
                if failed:
                    raise KafkaError(f"could not create topics: {failed}")
            described = await admin.describe_topics(wanted)
            not_ready = [d["topic"] for d in described if d["error_code"] or any(p["leader"] < 0 for p in d["partitions"])]
            if not_ready:
                raise KafkaError(f"topics without a leader yet: {not_ready}")
            return missing
        finally:
            await admin.close()

    deadline = time.monotonic() + timeout
    while True:
        try:
            return run_coroutine(attempt)
        except Exception as error:
            if time.monotonic() > deadline:
                raise KafkaError(f"the broker at {bootstrap} did not take the topics within {timeout:.0f}s: {error}") from None
            time.sleep(0.3)


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end from synchronous code, also where an event loop already runs in this thread
    (an async test starting a broker): then in a thread of its own, with a loop of its own."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def main(argv: list[str]) -> int:
    if argv[:1] != ["resolve"]:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    try:
        started = time.monotonic()
        path = classpath(quiet=False)
        java = subprocess.run([java_bin(), "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    except KafkaError as error:
        print(f"kafka: ERROR: {error}", file=sys.stderr)
        return 1
    print(f"Apache Kafka {version(path)} resolved ({len(path.split(os.pathsep))} jars in the Maven cache, "
          f"{time.monotonic() - started:.1f}s); {java}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
