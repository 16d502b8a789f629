"""The agents' screens: load-generator processes, each holding the console live channel (SSE, GET
/v1/notifications/stream) of many agents open, one connection and bearer token per agent, on raw asyncio
streams (as services/console/bench/bench_console.py does). Every `lead_assigned` notification read is
recorded with the agent whose stream read it and when; seqs must follow each other.

A loader talks to the benchmark over its stdin/stdout: `READY <connected> <failed> <errors json>`, then
`PROGRESS <notifications read> <when the last was read>` twice a second, and after a line on stdin `RESULT <json>`."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from telesales_runtime.auth import mint_token
from telesales_testkit.bench import BenchError

CONNECT_CONCURRENCY = 200
LEAD_ASSIGNED = "lead_assigned"


def agent_id(i: int) -> str:
    return f"agent-{i:05d}"


def parse_block(block: bytes) -> tuple[int, dict[str, Any]] | None:
    """(seq, notification) of one SSE event block (`id: <seq>` ... `data: <json>`); None for a comment,
    the retry line or a heartbeat."""
    if not block.startswith(b"id: "):
        return None
    seq_line, _, rest = block.partition(b"\n")
    return int(seq_line[4:]), json.loads(rest.partition(b"data: ")[2].partition(b"\n")[0])


class Screens:
    """N agents' SSE connections in one process."""

    def __init__(self, port: int, tenant: str, first: int, count: int, team_size: int) -> None:
        self.port, self.tenant, self.first, self.count, self.team_size = port, tenant, first, count, team_size
        self.connected = 0
        self.failed = 0
        self.receipts: list[tuple[str, str, float]] = []  # (agent, lead id, read at)
        self.other_kinds = 0
        self.errors: list[str] = []
        self.error_count = 0

    def error(self, text: str) -> None:
        self.error_count += 1
        if len(self.errors) < 20:
            self.errors.append(text)

    async def connection(self, i: int, gate: asyncio.Semaphore, ready: asyncio.Event) -> None:
        user = agent_id(i)
        token = mint_token(user, "agent", tenant=self.tenant, team=f"team-{i // self.team_size:03d}",
                           ttl_seconds=7200)
        async with gate:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
                writer.write(f"GET /v1/notifications/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream"
                             f"\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise ConnectionError(head[:200].decode(errors="replace"))
                first = await self.chunk(reader)
                if not first.startswith(b"retry:"):
                    raise ConnectionError(f"first chunk {first[:80]!r}")
            except (OSError, asyncio.IncompleteReadError, ConnectionError) as error:
                self.failed += 1
                self.error(f"{user}: {error!r}")
                self._maybe_ready(ready)
                return
        self.connected += 1
        self._maybe_ready(ready)
        await self.read(user, reader)

    def _maybe_ready(self, ready: asyncio.Event) -> None:
        if self.connected + self.failed == self.count:
            ready.set()

    async def read(self, user: str, reader: asyncio.StreamReader) -> None:
        last_seq = 0
        try:
            while True:
                chunk = await self.chunk(reader)
                now = time.time()
                for block in chunk.split(b"\n\n"):
                    parsed = parse_block(block)
                    if parsed is None:
                        continue
                    seq, notification = parsed
                    if seq != last_seq + 1:
                        self.error(f"{user}: seq {seq} after {last_seq}")
                    last_seq = seq
                    if notification.get("kind") != LEAD_ASSIGNED:
                        self.other_kinds += 1
                        continue
                    self.receipts.append((user, notification["subject"]["lead_id"], now))
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            if not isinstance(error, asyncio.IncompleteReadError):
                self.error(f"{user}: stream ended: {error!r}")

    @staticmethod
    async def chunk(reader: asyncio.StreamReader) -> bytes:
        """One chunk of the chunked response body."""
        size = int((await reader.readline()).strip() or b"0", 16)
        if size == 0:
            raise asyncio.IncompleteReadError(b"", None)
        data = await reader.readexactly(size + 2)
        return data[:-2]

    async def run(self) -> None:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        ready = asyncio.Event()
        tasks = [asyncio.create_task(self.connection(i, gate, ready))
                 for i in range(self.first, self.first + self.count)]
        await ready.wait()
        print(f"READY {self.connected} {self.failed} {json.dumps(self.errors[:5])}", flush=True)
        stop = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        while not stop.done():
            last = self.receipts[-1][2] if self.receipts else 0.0
            print(f"PROGRESS {len(self.receipts)} {last}", flush=True)
            await asyncio.wait([stop], timeout=0.5)
        for task in tasks:
            task.cancel()
        print("RESULT " + json.dumps({"receipts": self.receipts, "other_kinds": self.other_kinds,
                                      "errors": self.errors, "error_count": self.error_count}), flush=True)


class ScreensProcess:
    """The benchmark's side of one load-generator process."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.read_count = 0
        self.last_read = 0.0
        self.ready: tuple[int, int, list[str]] | None = None
        self.result: dict[str, Any] | None = None
        self.reading = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, script: str, port: int, tenant: str, first: int, count: int, team_size: int
                    ) -> ScreensProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, script, "--screens", "--port", str(port), "--tenant", tenant, "--first", str(first),
            "--count", str(count), "--team-size", str(team_size),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=256 * 1024 * 1024)
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            word, _, rest = raw.decode().strip().partition(" ")
            if word == "READY":
                connected, failed, errors = rest.split(" ", 2)
                self.ready = (int(connected), int(failed), json.loads(errors))
            elif word == "PROGRESS":
                count, last = rest.split()
                self.read_count, self.last_read = int(count), float(last)
            elif word == "RESULT":
                self.result = json.loads(rest)

    async def finish(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"STOP\n")
        await self.proc.stdin.drain()
        await asyncio.wait_for(self.reading, 120)
        await self.proc.wait()
        if self.result is None:
            raise BenchError("a load generator ended without its results")
        return self.result

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


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
