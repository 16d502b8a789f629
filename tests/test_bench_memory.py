"""The benchmarks' memory sampler reads real RSS from /proc and keeps each phase's peak."""

from __future__ import annotations

import asyncio
import os

from telesales_testkit.memory import Memory, memory_table, rss_bytes


def test_rss_of_this_process_is_read_and_of_a_gone_process_is_zero() -> None:
    assert rss_bytes(os.getpid()) > 10 * 2**20
    assert rss_bytes(2**22 + 7) == 0


def test_a_phase_keeps_the_peak_and_points_render_as_a_table() -> None:
    async def run() -> dict[str, dict[str, int]]:
        memory = Memory({"me": os.getpid()}, every_s=0.01)
        memory.take("before")
        memory.phase = "load"
        ballast = bytearray(64 * 2**20)  # touched, so it is resident
        for i in range(0, len(ballast), 4096):
            ballast[i] = 1
        await asyncio.sleep(0.1)
        memory.phase = None
        del ballast
        await memory.close()
        return memory.points

    points = asyncio.run(run())
    assert points["peak: load"]["me"] >= points["before"]["me"] + 60 * 2**20
    table = memory_table(points)
    assert table[0] == "| RSS (MiB) | me |" and len(table) == 4
