"""The agents' screens: load-generator processes, each holding the console live channel (SSE, GET
/v1/notifications/stream) of many agents open, one connection and bearer token per agent, on raw asyncio
streams (telesales_testkit.sse_load, as services/console/bench/bench_console.py uses it). Every `lead_assigned` notification read is
recorded with the agent whose stream read it and when; seqs must follow each other.

A loader talks to the benchmark over its stdin/stdout: `READY <connected> <failed> <errors json>`, then
`PROGRESS <notifications read> <when the last was read>` twice a second, and after a line on stdin `RESULT <json>`."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from telesales_runtime.auth import mint_token
from telesales_testkit.bench import BenchError
from telesales_testkit.sse_load import LoadProcess, StreamLoad, agent_id, parse_block

__all__ = ["Screens", "ScreensProcess", "open_screens", "parse_block"]
LEAD_ASSIGNED = "lead_assigned"


class Screens(StreamLoad):
    """N agents' SSE connections in one process; each `lead_assigned` read is kept with its agent and time."""

    def __init__(self, port: int, tenant: str, first: int, count: int, team_size: int) -> None:
        super().__init__(port, first, count)
        self.tenant, self.team_size = tenant, team_size
        self.receipts: list[tuple[str, str, float]] = []  # (agent, lead id, read at)
        self.other_kinds = 0

    def token_for(self, i: int) -> str:
        return mint_token(agent_id(i), "agent", tenant=self.tenant, team=f"team-{i // self.team_size:03d}",
                          ttl_seconds=7200)

    def notified(self, user: str, seq: int, notification: dict[str, Any], read_at_ns: int) -> None:
        if notification.get("kind") != LEAD_ASSIGNED:
            self.other_kinds += 1
            return
        self.receipts.append((user, notification["subject"]["lead_id"], read_at_ns / 1e9))

    def progress_fields(self) -> list[Any]:
        return [len(self.receipts), self.receipts[-1][2] if self.receipts else 0.0]

    def result(self) -> dict[str, Any]:
        return {"receipts": self.receipts, "other_kinds": self.other_kinds}


class ScreensProcess(LoadProcess):
    """The benchmark's side of one load-generator process: notifications read so far, when the last was read."""

    @property
    def read_count(self) -> int:
        return int(self.progress_field(0))

    @property
    def last_read(self) -> float:
        return float(self.progress_field(1, "0.0"))

    @classmethod
    async def start(cls, script: str, port: int, tenant: str, first: int, count: int, team_size: int
                    ) -> ScreensProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, script, "--screens", "--port", str(port), "--tenant", tenant, "--first", str(first),
            "--count", str(count), "--team-size", str(team_size),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=256 * 1024 * 1024)
        return cls(proc)


async def open_screens(script: str, port: int, tenant: str, agents: int, loaders: int, team_size: int,
                       alive: Any) -> list[ScreensProcess]:
    """Start the load generators and wait until every agent's stream is open (or failed); `alive()` raises
    when a service under test died meanwhile."""
    per = -(-agents // loaders)
    screens = [await ScreensProcess.start(script, port, tenant, first, min(per, agents - first), team_size)
               for first in range(0, agents, per)]
    while not all(s.ready for s in screens):
        alive()
        if any(s.proc.returncode is not None for s in screens):
            raise BenchError("a load generator exited while connecting")
        await asyncio.sleep(0.2)
    return screens
