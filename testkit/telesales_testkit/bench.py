"""What the benchmarks (`make bench-*`) share: the local stack's addresses, a private broker, a service
under test as a subprocess, CPU accounting per process, percentiles and the state of the work tree.

Benchmarks measure on the real broker and database; see each service's bench/README.md."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from telesales_runtime.pii_crypto import new_keyring_json

# The private broker, free ports and log tails are the test infrastructure's (the benchmarks import them here).
from .infra import InfraError, PrivateBroker, log_tail, repo_root
from .infra import free_port as free_port  # re-exported: the benchmarks take it from here

REPO_ROOT = repo_root()
STACK = REPO_ROOT / "deploy" / "local" / "stack.py"
READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 30.0


class BenchError(Exception):
    """The run cannot produce trustworthy numbers (a lead lost, a timeout, a crash)."""


def say(msg: str = "") -> None:
    print(msg, flush=True)


def note(msg: str) -> None:
    print(f"  .. {msg}", file=sys.stderr, flush=True)


def stack_up() -> dict[str, str]:
    """`stack.py up --infra-only` (idempotent), then the addresses `stack.py env` gives."""
    started = time.monotonic()
    up = subprocess.run([sys.executable, str(STACK), "up", "--infra-only"], cwd=REPO_ROOT, capture_output=True,
                        text=True, timeout=600)
    if up.returncode != 0:
        raise BenchError(f"`stack.py up --infra-only` failed (exit {up.returncode}):\n{up.stdout}{up.stderr}")
    parts = [line.strip() for line in up.stdout.splitlines() if line.startswith("  ")]
    note(f"stack up --infra-only [{time.monotonic() - started:.1f}s]: " + "; ".join(" ".join(p.split()) for p in parts))
    out = subprocess.run([sys.executable, str(STACK), "env"], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    env: dict[str, str] = {}
    for line in out.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, value = words[1].split("=", 1)
            env[key] = value
    for key in ("TELESALES_KAFKA_BOOTSTRAP", "TELESALES_MONGO_URI"):
        if key not in env:
            raise BenchError(f"`stack.py env` did not give {key}")
    return env


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


# ------------------------------------------------------------------------------- CPU accounting
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float | None:
    """user + system CPU seconds of a process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def machine_busy_seconds() -> float:
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


# ------------------------------------------------------------------------------- the service under test
@dataclass
class ServiceProcess:
    """A service under test, started as `uvicorn --factory <factory>` with its own environment."""

    name: str
    factory: str
    port: int
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log_fh: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, stack_env: Mapping[str, str]) -> None:
        argv = [sys.executable, "-m", "uvicorn", "--factory", self.factory,
                "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--no-access-log"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_fh = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.log_fh.write(f"===== {datetime.now(UTC).isoformat()} {shlex.join(argv)}\n".encode())
        self.log_fh.flush()
        env = {**os.environ, **stack_env, "PYTHONUNBUFFERED": "1", **self.env}
        self.proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log_fh, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            code = self.proc.returncode if self.proc else None
            raise BenchError(f"the {self.name} subprocess exited (code {code}); log {self.log_path}:\n"
                             f"{log_tail(self.log_path)}")

    async def wait_ready(self, http: httpx.AsyncClient, timeout: float = READY_TIMEOUT_S) -> float:
        started = time.monotonic()
        last = "no answer"
        while time.monotonic() - started < timeout:
            self.check_alive()
            try:
                response = await http.get(f"{self.base_url}/readyz", timeout=3.0)
                if response.status_code == 200:
                    return time.monotonic() - started
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as error:
                last = repr(error)
            await asyncio.sleep(0.25)
        raise BenchError(f"{self.name} not ready within {timeout:.0f}s (last /readyz: {last}); log {self.log_path}:\n"
                         f"{log_tail(self.log_path)}")

    def stop(self) -> int | None:
        """Stop the service (SIGTERM, then SIGKILL after a grace period); its exit code, 0 when it ended as
        asked (uvicorn re-raises the SIGTERM it handled, so a clean stop shows as -15)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                note(f"{self.name} (pid {self.proc.pid}) did not stop within {STOP_GRACE_S:.0f}s of SIGTERM: SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(timeout=10)
        if self.log_fh is not None:
            self.log_fh.close()
            self.log_fh = None
        return 0 if self.proc.returncode == -signal.SIGTERM else self.proc.returncode


class BenchService(ServiceProcess):
    """A service under test in a run of its own: its own database (`bench_<package>_<run>`), consumer group
    and event source, warnings only in its log; `env` adds settings (without the `prefix`)."""

    def __init__(self, name: str, package: str, prefix: str, run: str, port: int, log_path: Path,
                 env: Mapping[str, str] | None = None) -> None:
        self.name, self.run, self.package = name, run, package  # the names below are made of them
        settings = {"MONGO_DB": self.db, "CONSUMER_GROUP": self.group, "EVENT_SOURCE": self.source,
                    "LOG_LEVEL": "WARNING", **(env or {})}
        super().__init__(name, f"{package}.main:create_app_from_env", port, log_path,
                         env={prefix + key: value for key, value in settings.items()})

    @property
    def db(self) -> str:
        return f"bench_{self.package}_{self.run}"

    @property
    def group(self) -> str:
        return f"bench-{self.name}-{self.run}"

    @property
    def source(self) -> str:
        return f"/services/{self.name}/bench-{self.run}"


def find_pids(kafka_port: int, mongo_port: int, exclude: set[int], services: Mapping[str, str] | None = None
              ) -> dict[str, list[int]]:
    """The broker, the database and, per label in `services`, processes whose command line names that
    module (e.g. {"other lead-intake": "lead_intake.main"})."""
    services = services or {}
    found: dict[str, list[int]] = {"kafka (broker)": [], "mongod": [], **{label: [] for label in services}}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in exclude:
            continue
        pid = int(entry)
        cmd = cmdline(pid)
        if not cmd:
            continue
        exe = cmd.split()[0]
        if " kafka.Kafka " in cmd and kafka_listens_on(cmd.split()[-1], kafka_port):
            found["kafka (broker)"].append(pid)
        elif exe.endswith("mongod") and f"--port {mongo_port}" in cmd:
            found["mongod"].append(pid)
        else:
            for label, module in services.items():
                if module in cmd:
                    found[label].append(pid)
    return found


def kafka_listens_on(properties_file: str, port: int) -> bool:
    """Whether the Kafka node configured by `properties_file` listens on `port`."""
    try:
        lines = Path(properties_file).read_text().splitlines()
    except OSError:
        return False
    return any(line.startswith("listeners=") and f":{port}," in line + "," for line in lines)


# ------------------------------------------------------------------------------- CPU use per process
class CpuWatch:
    """CPU seconds each tracked process (and the whole machine) spends between start() and stop()."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = {k: list(v) for k, v in groups.items() if v}
        self._start: dict[int, float] = {}
        self._t0 = 0.0
        self._busy0 = 0.0
        self.result: dict[str, Any] = {}

    def start(self) -> CpuWatch:
        self._t0 = time.perf_counter()
        self._busy0 = machine_busy_seconds()
        self._start = {pid: proc_cpu_seconds(pid) or 0.0 for pids in self.groups.values() for pid in pids}
        return self

    def stop(self) -> dict[str, Any]:
        wall = time.perf_counter() - self._t0
        busy = machine_busy_seconds() - self._busy0
        per: dict[str, float] = {}
        for label, pids in self.groups.items():
            total = 0.0
            for pid in pids:
                now = proc_cpu_seconds(pid)
                if now is not None:
                    total += max(0.0, now - self._start.get(pid, 0.0))
            per[label] = total
        tracked = sum(per.values())
        per["everything else on the machine"] = max(0.0, busy - tracked)
        self.result = {
            "wall_s": wall,
            "machine_cores": os.cpu_count(),
            "machine_busy_cpu_s": busy,
            "machine_busy_pct": 100.0 * busy / (wall * (os.cpu_count() or 1)) if wall > 0 else 0.0,
            "cpu_s": per,
            "pct_of_one_core": {k: 100.0 * v / wall if wall > 0 else 0.0 for k, v in per.items()},
        }
        return self.result


async def wait_idle(pids: list[int], what: str, timeout: float, threshold: float = 0.05) -> bool:
    """Wait until the given processes together use under `threshold` of one core for 2 x 2 s."""
    pids = [p for p in pids if pid_alive(p)]
    if not pids:
        return True
    deadline = time.monotonic() + timeout
    quiet = 0
    told = False
    while time.monotonic() < deadline:
        before = sum(proc_cpu_seconds(p) or 0.0 for p in pids)
        await asyncio.sleep(2.0)
        used = sum(proc_cpu_seconds(p) or 0.0 for p in pids) - before
        if used / 2.0 < threshold:
            quiet += 1
            if quiet >= 2:
                return True
        else:
            quiet = 0
            if not told:
                note(f"waiting for {what} (pids {pids}) to go idle ({100 * used / 2:.0f} % of a core now)")
                told = True
    note(f"{what} still busy after {timeout:.0f}s; measuring anyway (see 'everything else' / 'other' CPU)")
    return False


async def wait_machine_quiet(timeout: float, threshold_pct: float = 20.0) -> bool:
    """Before a measurement: wait until the whole machine is under `threshold_pct` busy for 3 s."""
    deadline = time.monotonic() + timeout
    told = False
    while True:
        before, t0 = machine_busy_seconds(), time.perf_counter()
        await asyncio.sleep(3.0)
        busy_pct = 100 * (machine_busy_seconds() - before) / ((time.perf_counter() - t0) * (os.cpu_count() or 1))
        if busy_pct < threshold_pct:
            return True
        if time.monotonic() > deadline:
            note(f"the machine is still {busy_pct:.0f} % busy after {timeout:.0f}s; measuring anyway")
            return False
        if not told:
            note(f"waiting for the machine to quiet down ({busy_pct:.0f} % busy)")
            told = True


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(latencies_s: list[float]) -> dict[str, float]:
    values = sorted(latencies_s)
    return {
        "p50_ms": 1000 * percentile(values, 0.50),
        "p99_ms": 1000 * percentile(values, 0.99),
        "max_ms": 1000 * values[-1] if values else math.nan,
        "min_ms": 1000 * values[0] if values else math.nan,
    }


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty_files": git("status", "--porcelain").splitlines()}


# ------------------------------------------------------------------------------- the benchmark's frame
def private_or_stack_broker(stack_env: dict[str, str], private: bool, workdir: Path) -> PrivateBroker | None:
    """With `private`, start a fresh Apache Kafka node for this run (data and log in `workdir`) and point
    `stack_env` at it."""
    if not private:
        return None
    broker = PrivateBroker(workdir)
    try:
        stack_env["TELESALES_KAFKA_BOOTSTRAP"] = broker.start()
    except InfraError as error:
        raise BenchError(str(error)) from error
    note(f"private broker (a fresh Apache Kafka node) on {stack_env['TELESALES_KAFKA_BOOTSTRAP']}, log {broker.log_path}")
    return broker


async def bench_run(name: str, out: Path, private: bool, headline: str,
                    body: Callable[[str, Path, dict[str, str]], Coroutine[Any, Any, int]]) -> int:
    """A benchmark's run: a run id, the folder of its results file (`out`), its announcement, then
    `body(run, out_path, stack_env)` on the local stack (`stack.py up --infra-only`), with a fresh
    private broker of this run when `private` (its log next to `out`, stopped afterwards)."""
    run = uuid.uuid4().hex[:10]
    out_path = out.resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    say(f"{name} benchmark: run {run}, {headline}, {os.cpu_count()} CPUs")
    stack_env = stack_up()
    if not (os.environ.get("TELESALES_PII_KEYRING") or os.environ.get("TELESALES_PII_KEYRING_FILE")):
        # services storing personal data need a keyring: this run's own (its data is thrown away after)
        os.environ["TELESALES_PII_KEYRING"] = stack_env["TELESALES_PII_KEYRING"] = new_keyring_json("bench")
    broker = private_or_stack_broker(stack_env, private, out_path.parent / f"{name}-broker-{run}")
    try:
        return await body(run, out_path, stack_env)
    finally:
        if broker is not None:
            broker.remove()


def publish_report(out_path: Path, report: dict[str, Any], table: str) -> None:
    """Write the figures as JSON and print the table."""
    out_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    say("")
    say(table)
    say(f"\nresults: {out_path}")


def run_benchmark(amain: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Exit code of a benchmark: its own, 1 when it could not measure (BenchError), 130 when interrupted."""
    try:
        return asyncio.run(amain())
    except BenchError as error:
        say(f"BENCHMARK FAILED: {error}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130


# ------------------------------------------------------------------------------- producing the load
# A load generator's producer: batches large enough that producing is never the bottleneck, acks from the
# leader only and no idempotence (it measures the service under test, not its own delivery guarantees; the
# services' producers are idempotent with acks=all).
LOAD_PRODUCER_OPTIONS: dict[str, Any] = {"acks": 1, "linger_ms": 10, "max_batch_size": 512 * 1024,
                                         "max_request_size": 4 * 1024 * 1024, "enable_idempotence": False}


@dataclass
class Sent:
    """When each message was handed to the producer, and where the broker put it."""

    first_send: float
    last_send: float
    send_times: list[float]
    metadata: list[Any]


async def send_all(producer: Any, topic: str, payloads: Sequence[bytes], keys: Sequence[bytes | None],
                   headers: list[tuple[str, bytes]] | None = None) -> Sent:
    """Hand every message to the producer without waiting for each acknowledgement (the send time of a
    message is when it was handed over), then wait until the broker acknowledged all."""
    futures = []
    send_times: list[float] = []
    first = time.perf_counter()
    for i, (payload, key) in enumerate(zip(payloads, keys, strict=True)):
        send_times.append(time.perf_counter())
        futures.append(await producer.send(topic, payload, key=key, headers=headers))
        if i % 500 == 499:
            await asyncio.sleep(0)  # let this process's readers run while the producer has room
    last = time.perf_counter()
    metadata = await asyncio.gather(*futures)
    return Sent(first, last, send_times, list(metadata))
