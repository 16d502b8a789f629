"""Many agents on the console's live channel at once, for the benchmarks: a load-generator process holds one SSE
connection (GET /v1/notifications/stream) and bearer token per agent on raw asyncio streams, far lighter than an
HTTP client per stream. A benchmark subclasses StreamLoad with what it records of each notification.

A loader talks to its benchmark over stdin/stdout: `READY <connected> <failed> <errors json>` once every stream
is open (or failed), then `PROGRESS ...` twice a second (progress_fields), and after a line on stdin
`RESULT <json>` (result)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from .bench import BenchError

CONNECT_CONCURRENCY = 200
MAX_ERRORS_KEPT = 20


def agent_id(i: int) -> str:
    return f"agent-{i:05d}"


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked response body; IncompleteReadError at its end."""
    size = int((await reader.readline()).strip() or b"0", 16)
    if size == 0:
        raise asyncio.IncompleteReadError(b"", None)
    data = await reader.readexactly(size + 2)
    return data[:-2]


def parse_block(block: bytes) -> tuple[int, dict[str, Any]] | None:
    """(seq, notification) of one SSE event block (`id: <seq>` ... `data: <json>`); None for a comment, the retry
    line or a heartbeat."""
    if not block.startswith(b"id: "):
        return None
    seq_line, _, rest = block.partition(b"\n")
    return int(seq_line[4:]), json.loads(rest.partition(b"data: ")[2].partition(b"\n")[0])


async def open_stream(port: int, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The live channel of the token's user, once the console answered 200 and its `retry:` line. The caller
    keeps the writer as long as it reads: a writer that is collected closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(f"GET /v1/notifications/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream"
                 f"\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(head[:200].decode(errors="replace"))
    first = await read_chunk(reader)
    if not first.startswith(b"retry:"):
        raise ConnectionError(f"first chunk {first[:80]!r}")
    return reader, writer


class StreamLoad:
    """`count` agents' streams from agent number `first`; subclasses say whose token (token_for) and what to keep
    of each notification (notified)."""

    def __init__(self, port: int, first: int, count: int) -> None:
        self.port, self.first, self.count = port, first, count
        self.connected = 0
        self.failed = 0
        self.errors: list[str] = []
        self.error_count = 0

    def token_for(self, i: int) -> str:
        raise NotImplementedError

    def notified(self, user: str, seq: int, notification: dict[str, Any], read_at_ns: int) -> None:
        raise NotImplementedError

    def progress_fields(self) -> list[Any]:
        raise NotImplementedError

    def result(self) -> dict[str, Any]:
        raise NotImplementedError

    def error(self, text: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(text)

    async def connection(self, i: int, gate: asyncio.Semaphore, ready: asyncio.Event) -> None:
        user = agent_id(i)
        async with gate:
            try:
                reader, writer = await open_stream(self.port, self.token_for(i))
            except (OSError, asyncio.IncompleteReadError, ConnectionError) as error:
                self.failed += 1
                self.error(f"{user}: {error!r}")
                self._maybe_ready(ready)
                return
        self.connected += 1
        self._maybe_ready(ready)
        try:
            await self._read(user, reader)
        finally:
            writer.close()

    def _maybe_ready(self, ready: asyncio.Event) -> None:
        if self.connected + self.failed == self.count:
            ready.set()

    async def _read(self, user: str, reader: asyncio.StreamReader) -> None:
        last_seq = 0
        try:
            while True:
                chunk = await read_chunk(reader)
                now_ns = time.time_ns()
                for block in chunk.split(b"\n\n"):
                    parsed = parse_block(block)
                    if parsed is None:
                        continue
                    seq, notification = parsed
                    if seq != last_seq + 1:
                        self.error(f"{user}: seq {seq} after {last_seq}")
                    last_seq = seq
                    self.notified(user, seq, notification, now_ns)
        except (OSError, asyncio.IncompleteReadError, ValueError, KeyError, TypeError) as error:
            # a notification not as expected ends this stream, said in the errors (never silently)
            if not isinstance(error, asyncio.IncompleteReadError):
                self.error(f"{user}: stream ended: {error!r}")

    async def run(self) -> None:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        ready = asyncio.Event()
        tasks = [asyncio.create_task(self.connection(i, gate, ready))
                 for i in range(self.first, self.first + self.count)]
        await ready.wait()
        print(f"READY {self.connected} {self.failed} {json.dumps(self.errors[:5])}", flush=True)
        stop = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        while not stop.done():
            print("PROGRESS " + " ".join(str(field) for field in self.progress_fields()), flush=True)
            await asyncio.wait([stop], timeout=0.5)
        for task in tasks:
            task.cancel()
        print("RESULT " + json.dumps({**self.result(), "errors": self.errors, "error_count": self.error_count}),
              flush=True)



class LoadProcess:
    """The benchmark's side of one load-generator process: what it said last (READY, the latest PROGRESS fields,
    RESULT); subclasses name the PROGRESS fields of their StreamLoad."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ready: tuple[int, int, list[str]] | None = None
        self.progress: list[str] = []
        self.result: dict[str, Any] | None = None
        self.reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            word, _, rest = raw.decode().strip().partition(" ")
            if word == "READY":
                connected, failed, errors = rest.split(" ", 2)
                self.ready = (int(connected), int(failed), json.loads(errors))
            elif word == "PROGRESS":
                self.progress = rest.split()
            elif word == "RESULT":
                self.result = json.loads(rest)

    def progress_field(self, index: int, default: str = "0") -> str:
        return self.progress[index] if len(self.progress) > index else default

    async def finish(self) -> dict[str, Any]:
        """Tell the loader to stop and wait for its RESULT."""
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
