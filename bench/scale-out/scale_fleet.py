"""The replicas of the consuming services in a scale-out run: each replica a `make up`-like uvicorn
subprocess of its service, all replicas of a service sharing the run's database, consumer group and event
source (so they are one service scaled out), each on its own port and log. Replicas are labelled
`<service>#<n>` in the order they were started."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from telesales_testkit.bench import BenchService, free_port

PARTITIONS = 12
# service -> (package, settings prefix, topic whose records are its work or None for every topic, settings)
SERVICES: dict[str, tuple[str, str, str | None, dict[str, str]]] = {
    "lead-intake": ("lead_intake", "LEAD_INTAKE_", "leads.received.v1", {}),
    "allocator": ("allocator", "ALLOCATOR_", "leads.qualified.v1", {}),
    # the sole consumer's lease: a standby takes over this long after the holder died (default 20 s)
    "metrics": ("metrics", "METRICS_", None, {"LEASE_SECONDS": "6"}),
    "ledger": ("ledger", "LEDGER_", "ledger.transfer-requested.v1", {}),
    "marketplace": ("marketplace", "MARKETPLACE_", "ledger.transfer-posted.v1", {}),
    # the live channel's Redis channel of the run ({run} is filled in)
    "console": ("console", "CONSOLE_", None, {"NOTIFICATION_CHANNEL": "bench:scale:{run}"}),
}


def processed(metrics_text: str, topic: str | None) -> float:
    """Records a replica processed (telesales_messages_consumed_total, outcome processed) of `topic`."""
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if (sample.name == "telesales_messages_consumed_total" and sample.labels.get("outcome") == "processed"
                    and (topic is None or sample.labels.get("topic") == topic)):
                total += sample.value
    return total


class Fleet:
    def __init__(self, run: str, logs: Path, stack_env: dict[str, str]) -> None:
        self.run, self.logs, self.stack_env = run, logs, stack_env
        self.replicas: dict[str, BenchService] = {}  # label -> replica, every one ever started
        self.killed: set[str] = set()
        self.work: dict[str, float] = {}  # label -> records processed, at its last scrape
        self._tracker: asyncio.Task[None] | None = None

    def service_of(self, label: str) -> str:
        return label.split("#", 1)[0]

    def live(self, service: str | None = None) -> dict[str, BenchService]:
        return {label: r for label, r in self.replicas.items()
                if label not in self.killed and (service is None or self.service_of(label) == service)}

    def pids(self) -> dict[str, int]:
        return {label: r.proc.pid for label, r in self.live().items() if r.proc is not None}

    def add(self, service: str) -> str:
        """Start one more replica of `service` (not waiting for it); its label."""
        package, prefix, _, env = SERVICES[service]
        n = 1 + sum(1 for label in self.replicas if self.service_of(label) == service)
        label = f"{service}#{n}"
        replica = BenchService(service, package, prefix, self.run, free_port(),
                               self.logs / f"scale-{service}-{n}-{self.run}.log",
                               env={"KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
                                    **{k: v.format(run=self.run) for k, v in env.items()}})
        replica.start(self.stack_env)
        self.replicas[label] = replica
        return label

    async def scale_to(self, count: int, http: httpx.AsyncClient) -> list[str]:
        """Start replicas, all at once, until each service has `count` live ones; wait until all are ready."""
        started = [self.add(service) for service in SERVICES for _ in range(count - len(self.live(service)))]
        await asyncio.gather(*(self.replicas[label].wait_ready(http) for label in started))
        return started

    def kill(self, label: str) -> int:
        """SIGKILL one replica (no shutdown: a lost machine); its pid."""
        replica = self.replicas[label]
        assert replica.proc is not None
        replica.proc.kill()
        replica.proc.wait(timeout=30)
        self.killed.add(label)
        return replica.proc.pid

    def check_alive(self) -> None:
        for replica in self.live().values():
            replica.check_alive()

    async def scrape(self, http: httpx.AsyncClient) -> None:
        for label, replica in list(self.live().items()):
            with contextlib.suppress(httpx.HTTPError):
                answer = await http.get(f"{replica.base_url}/metrics", timeout=10)
                if label not in self.killed:
                    self.work[label] = processed(answer.text, SERVICES[self.service_of(label)][2])

    def track(self, http: httpx.AsyncClient, every_s: float = 1.0) -> None:
        """Scrape every live replica's work counter every `every_s` (a killed one keeps its last figure)."""
        async def loop() -> None:
            while True:
                await self.scrape(http)
                await asyncio.sleep(every_s)
        self._tracker = asyncio.create_task(loop())

    async def stop(self) -> list[str]:
        """Stop every live replica; the unexpected exits."""
        if self._tracker is not None:
            self._tracker.cancel()
            await asyncio.gather(self._tracker, return_exceptions=True)
        problems = []
        for label, replica in self.replicas.items():
            code = replica.stop()
            if label not in self.killed and code not in (0, None):
                problems.append(f"{label} exited with {code}")
        return problems
