"""Memory of the processes under a benchmark: RSS at named points (readiness, idle, after the run) and the
peak of each load phase, sampled twice a second from /proc. Every benchmark reports it the same way."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path


def rss_bytes(pid: int) -> int:
    """Resident set size of one process; 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pids_running(*, name: str, port: int) -> list[int]:
    """Processes whose command line names `name` and `:port` (how the local stack starts redis-server)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if name in cmd and f":{port}" in cmd:
                found.append(int(entry))
    return found


class Memory:
    """RSS of named processes: `take(label)` records a point, `phase = name` samples that phase's peak until
    it is set back to None. Use inside a running event loop; `close()` stops the sampler."""

    def __init__(self, pids: dict[str, int], *, every_s: float = 0.5) -> None:
        self.pids = pids
        self.points: dict[str, dict[str, int]] = {}
        self.phase: str | None = None
        self.every_s = every_s
        self.task = asyncio.create_task(self._sample())

    def take(self, label: str) -> None:
        self.points[label] = {name: rss_bytes(pid) for name, pid in self.pids.items()}

    async def _sample(self) -> None:
        while True:
            if self.phase is not None:
                peak = self.points.setdefault(f"peak: {self.phase}", {})
                for name, pid in self.pids.items():
                    peak[name] = max(peak.get(name, 0), rss_bytes(pid))
            await asyncio.sleep(self.every_s)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def memory_table(points: dict[str, dict[str, int]]) -> list[str]:
    """A markdown table: one row per point, one column per process, MiB."""
    names = list(next(iter(points.values()), {}))
    lines = ["| RSS (MiB) | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, values in points.items():
        lines.append(f"| {label} | " + " | ".join(f"{values.get(n, 0) / 2**20:,.0f}" for n in names) + " |")
    return lines
