#!/usr/bin/env python3
"""In-process micro-benchmark of the metrics domain: what the one generated function buys.

The domain generates code in one place only (metrics/domain/generated.py): the function that turns a state
(a lead's, an agent's, a user's, a user-tip pair's) into its MongoDB document, written out per state class.
The counting rules themselves are plain methods; nothing is generated on the apply path. This benchmark:

  1. builds the floor of bench_metrics.py (default 200,000 events), encodes each event as the consumer
     receives it and parses it with the consumer's readings, as facts;
  2. applies them (Batch.run): events/s, for scale;
  3. turns every state the batch left into its document, with the generated function and with the plain
     loop over the fields (generated.plain_doc, the same documents), in alternating repetitions: the best
     time of each and their ratio, measured in one run;
  4. prepares the checkpoint of the batch (store.prepare_checkpoint: counter statements, state documents,
     tips) with each of the two, alternating: the best time of each and their ratio.

No broker, no database: `uv run --frozen python services/metrics/bench/bench_domain.py [--events N]`.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_metrics import Floor, encode  # noqa: E402 - the workload of the service benchmark
from bench_metrics import parse_args as workload_args  # noqa: E402

from metrics import store as store_module  # noqa: E402
from metrics.domain import Batch, Fact, Rules, World, state_doc, time_getter  # noqa: E402
from metrics.domain.generated import plain_doc  # noqa: E402
from metrics.events import READINGS  # noqa: E402


def facts_of(events: int, seed: int) -> list[Fact]:
    """The floor's events, encoded and parsed as the consumer parses them, as facts (times in UTC)."""
    workload = Floor(workload_args(["--events", str(events), "--seed", str(seed)]), "bench").build(events)
    encode(workload, seed)
    reading_of = {reading.name: reading for reading in READINGS}
    facts = []
    for topic, payloads in workload.payloads.items():
        reading, time_of = reading_of[topic], time_getter(topic)
        for payload in payloads:
            event = reading.parse(payload)
            at = time_of(event)
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
            facts.append(Fact(topic, event.tenantid, event.id, at, event.data))
    return facts


def best_of(repeats: int, candidates: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """The best time of each candidate over `repeats` rounds, the candidates alternating within a round and
    their order reversed every other round (a drift of the machine's speed touches both alike); the garbage
    collector is off while one runs, as it is while the service takes a checkpoint."""
    best = dict.fromkeys(candidates, float("inf"))
    order = list(candidates.items())
    for round_ in range(repeats):
        for name, run in order if round_ % 2 == 0 else order[::-1]:
            gc.collect()
            gc.disable()
            try:
                started = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - started)
            finally:
                gc.enable()
    return best


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events in all (default 200000)")
    parser.add_argument("--repeats", type=int, default=7, help="rounds of each measurement (default 7)")
    parser.add_argument("--seed", type=int, default=20261124)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    facts = facts_of(args.events, args.seed)
    worlds: dict[str, World] = {"bench": World()}
    batch = Batch(Rules(ZoneInfo("Asia/Shanghai")), worlds)
    started = time.perf_counter()
    batch.run(facts)
    apply_s = time.perf_counter() - started
    world = worlds["bench"]
    states = [*world.leads.values(), *world.agents.values(), *world.users.values(), *world.user_tips.values()]
    if [state_doc(s) for s in states] != [plain_doc(s) for s in states]:
        print("the generated and the plain documents differ", file=sys.stderr)
        return 1

    docs = best_of(args.repeats, {"generated": lambda: [state_doc(s) for s in states],
                                  "plain": lambda: [plain_doc(s) for s in states]})
    increments = batch.increments_by_period()
    changed = {"bench": {kind: set(keys) for kind, keys in world.changed.items() if keys}}
    tips = {"bench": dict(world.tips)}
    now = datetime.now(UTC)

    def prepare() -> Any:
        return store_module.prepare_checkpoint(increments, changed, worlds, tips, now)

    def prepare_plain() -> Any:
        with mock.patch.object(store_module, "state_doc", plain_doc):
            return prepare()

    checkpoint = best_of(args.repeats, {"generated": prepare, "plain": prepare_plain})

    print(f"events applied        {len(facts):>10,}  in {apply_s:.2f} s  ({len(facts) / apply_s:,.0f} events/s)")
    print(f"states                {len(states):>10,}  (leads {len(world.leads):,}, agents {len(world.agents):,}, "
          f"users {len(world.users):,}, user-tip pairs {len(world.user_tips):,})")
    print(f"state documents       generated {docs['generated'] * 1000:8.1f} ms   plain {docs['plain'] * 1000:8.1f} ms"
          f"   plain / generated = {docs['plain'] / docs['generated']:.2f}")
    print(f"checkpoint prepared   generated {checkpoint['generated'] * 1000:8.1f} ms   plain "
          f"{checkpoint['plain'] * 1000:8.1f} ms   plain / generated = "
          f"{checkpoint['plain'] / checkpoint['generated']:.2f}")
    print(f"(best of {args.repeats}, alternating; the apply path has no generated code)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
