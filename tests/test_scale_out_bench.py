"""The scale-out benchmark's pure parts (bench/scale-out/): its options, the exactness check's arithmetic,
the phase figures and the report. The run itself needs the stack and minutes (`make bench-scale-out`)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "scale-out"))

import bench_scale_out  # noqa: E402
from scale_checks import (  # noqa: E402
    Answer,
    QualifiedRead,
    Stored,
    coins_exactness,
    console_exactness,
    cpu_per_item_us,
    exactness,
    longest_gap,
    owner_pid,
    rate,
    scaling,
)
from scale_phases import Phase, Progress, phase_figures  # noqa: E402
from scale_report import memory_lines, render  # noqa: E402


def reads(n: int, start: float = 100.0) -> list[QualifiedRead]:
    return [QualifiedRead(f"q{i}", f"r{i}", f"lead{i}", start + i) for i in range(n)]


def stored(n: int, **changes: object) -> Stored:
    base = {"intake_leads": n, "allocator_lead_ids": [f"lead{i}" for i in range(n)], "metrics_created": n,
            "metrics_event_ids": n, "metrics_distinct_ids": n, "metrics_expected": n}
    return Stored(**{**base, **changes})  # type: ignore[arg-type]


def test_the_defaults_and_the_refused_options() -> None:
    args = bench_scale_out.parse_args([])
    assert (args.leads, args.purchases, args.replicas, args.kill_rate) == (3000, 1500, 3, 0.0)
    assert bench_scale_out.parse_args(["--leads", "400", "--kill-seconds", "20"]).kill_seconds == 20
    for bad in (["--replicas", "1"], ["--leads", "0"], ["--purchases", "0"], ["--kill-seconds", "0"], ["--kill-rate", "-1"]):
        with pytest.raises(SystemExit):
            bench_scale_out.parse_args(bad)


def test_every_lead_once_everywhere_is_exact() -> None:
    check = exactness([f"r{i}" for i in range(5)], reads(5), stored(5))
    assert check.ok and check.problems == []
    assert check.figures["sent"] == check.figures["pooled_distinct"] == 5


def test_a_qualified_event_read_twice_is_a_redelivery_not_a_fault() -> None:
    qualified = reads(3) + [reads(3)[1]]
    check = exactness(["r0", "r1", "r2"], qualified, stored(3, metrics_expected=3))
    assert check.ok
    assert check.figures["qualified_redelivered"] == 1


def test_a_lost_lead_and_a_double_effect_fail() -> None:
    twice = [*reads(3), QualifiedRead("q-other", "r2", "lead2", 105.0)]
    check = exactness(["r0", "r1", "r2", "r3"], twice, stored(3))
    assert not check.ok
    assert check.figures["qualified_missing"] == 1 and check.figures["qualified_doubled"] == 1
    assert any("never qualified" in p for p in check.problems)
    assert any("qualified twice" in p for p in check.problems)


def test_the_services_stores_must_match_the_leads_sent() -> None:
    ids = ["r0", "r1", "r2"]
    assert not exactness(ids, reads(3), stored(3, intake_leads=4)).ok
    doubled_pool = exactness(ids, reads(3), stored(3, allocator_lead_ids=["lead0", "lead1", "lead1"]))
    assert not doubled_pool.ok and doubled_pool.figures["qualified_not_pooled"] == 1
    assert not exactness(ids, reads(3), stored(3, metrics_created=2)).ok
    assert not exactness(ids, reads(3), stored(3, metrics_distinct_ids=2)).ok
    assert not exactness(ids, reads(3), stored(3, dead_letters=1)).ok


def test_every_purchase_answered_once_posted_stored_and_granted() -> None:
    ids = ["tx0", "tx1", "tx2"]
    answers = [Answer(f"a{i}", f"tx{i}", True, 10.0 + i) for i in range(3)]
    books = {"ledger_posted": 3, "market_purchases": 3, "market_granted": 3}
    good = coins_exactness(ids, [*answers, answers[0]], stored(0, **books))
    assert good.ok and good.figures["answers_redelivered"] == 1
    twice = coins_exactness(ids, [*answers, Answer("other", "tx1", True, 20.0)], stored(0, **books))
    assert not twice.ok and twice.figures["answered_twice"] == 1
    lost = coins_exactness([*ids, "tx3"], answers, stored(0, **books))
    assert not lost.ok and lost.figures["unanswered"] == 1
    refused = [Answer("a0", "tx0", False, 10.0), *answers[1:]]
    refusal = coins_exactness(ids, refused, stored(0, ledger_posted=2, ledger_rejected=1, market_purchases=3,
                                                   market_granted=2))
    assert refusal.figures["rejected"] == 1 and not refusal.ok  # every buyer was funded: a refusal is a fault
    assert not coins_exactness(ids, answers, stored(0, **{**books, "ledger_posted": 4})).ok
    assert not coins_exactness(ids, answers, stored(0, **{**books, "market_purchases": 4})).ok
    assert not coins_exactness(ids, answers, stored(0, **{**books, "market_granted": 2})).ok


def test_rates_gaps_cpu_and_scaling() -> None:
    assert rate(100, 10.0, 12.0) == 50.0
    assert math.isnan(rate(100, 10.0, None)) and math.isnan(rate(100, 10.0, 9.0))
    assert longest_gap([1.0, 2.0, 7.0, 8.0], 0.0, 20.0) == 5.0  # the quiet after the last is no stall
    assert longest_gap([], 0.0, 20.0) == 0.0
    cpu = cpu_per_item_us({"lead-intake#1": 0.2, "lead-intake#2": 0.3, "allocator#1": 0.1, "mongod": 9.0},
                          ("lead-intake", "allocator"), 1000)
    assert cpu == pytest.approx({"lead-intake": 500.0, "allocator": 100.0})
    assert scaling({1: 100.0, 2: 150.0, 3: 90.0}) == {1: 1.0, 2: 1.5, 3: 0.9}
    assert scaling({1: math.nan, 2: 5.0}) == {}
    assert owner_pid("host:1234:7f00") == 1234 and owner_pid(None) is None and owner_pid("x:y:z") is None


def burst(name: str, replicas: int, ids: list[str], first: float, done: float) -> Phase:
    phase = Phase(name, replicas)
    for event_id in ids:
        phase.sent(event_id, first)
    phase.done = done
    phase.cpu = {"cpu_s": {"lead-intake#1": 0.1, "allocator#1": 0.05, "metrics#1": 0.02},
                 "pct_of_one_core": {"everything else on the machine": 3.0}}
    phase.work_before, phase.work_after = {"lead-intake#1": 0.0}, {"lead-intake#1": float(len(ids))}
    return phase


def test_phase_figures_and_the_report() -> None:
    qualified = reads(4, start=100.0)  # qualified at 100..103
    phases = [burst("1 replica", 1, ["r0", "r1"], 99.0, 104.0), burst("2 replicas", 2, ["r2", "r3"], 101.0, 106.0)]
    progress = Progress()
    progress.sample(102.0, 2, 2, 2)
    progress.sample(105.0, 4, 4, 4)
    pooled_at = {f"lead{i}": 100.5 + i for i in range(4)}
    figures = phase_figures(phases, qualified, pooled_at, progress, kill_at=None)
    first = figures["by_phase"]["1 replica"]
    assert first["per_s"]["lead-intake"] == pytest.approx(2 / (101.0 - 99.0))
    assert first["per_s"]["allocator"] == pytest.approx(2 / (101.5 - 99.0))
    assert first["per_s"]["metrics"] == pytest.approx(2 / (102.0 - 99.0))
    assert first["cpu_us_per_item"]["lead-intake"] == pytest.approx(50_000.0)
    assert first["work_per_replica"] == {"lead-intake#1": 2.0}
    assert figures["scaling_vs_1_replica"]["lead-intake"][2] == pytest.approx((2 / 2.0) / (2 / 2.0))
    assert "stall_s" not in first
    report = {"run": "r1", "cpu_count": 2, "git": {"commit": "abc"}, "partitions": 12, "phases": figures,
              "events": [], "metrics_holder": {"before kill": "metrics#1", "after": "metrics#2"},
              "exactness": {"ok": True, **exactness(["r0", "r1", "r2", "r3"], qualified, stored(4)).figures,
                            "problems": []},
              "memory_rss_bytes": {"idle": {"lead-intake#1": 2**20}, "after": {"lead-intake#1": 2**21, "x#2": 0}},
              "warnings": ["DISTURBED: x"]}
    text = render(report)
    assert "| 2 replicas | 2 | 2 |" in text and "exact: yes" in text and "WARNING: DISTURBED: x" in text
    assert memory_lines(report["memory_rss_bytes"])[0] == "| RSS (MiB) | lead-intake#1 | x#2 |"


def test_the_ledger_is_measured_in_purchases() -> None:
    phase = burst("1 replica", 1, ["r0", "r1"], 99.0, 104.0)
    phase.requested("tx0", 98.0)  # the earlier of the two streams starts the phase
    phase.requested("tx1", 99.5)
    phase.cpu["cpu_s"]["ledger#1"] = 0.004
    answers = [Answer("a0", "tx0", True, 100.0), Answer("a1", "tx1", True, 102.0), Answer("a1", "tx1", True, 103.0)]
    progress = Progress()
    progress.sample(102.5, 2, 2, 2, 2, 1)
    progress.sample(103.0, 2, 2, 2, 2, 2)
    figures = phase_figures([phase], reads(2), {"lead0": 100.5, "lead1": 101.5}, progress, None, answers)
    first = figures["by_phase"]["1 replica"]
    assert phase.first_send == 98.0 and first["purchases"] == 2
    assert first["per_s"]["ledger"] == pytest.approx(2 / (102.0 - 98.0))
    assert first["per_s"]["marketplace"] == pytest.approx(2 / (103.0 - 98.0))  # when both were granted
    assert first["cpu_us_per_item"]["ledger"] == pytest.approx(2000.0)
    assert first["cpu_us_per_item"]["metrics"] == pytest.approx(1e6 * 0.02 / 4)  # per event: 2 leads, 2 answers
    assert progress.last.all_at(2, 2) and not progress.last.all_at(2, 3)


def test_every_notification_stored_once_with_unbroken_seqs() -> None:
    good = stored(0, notifications={"n1": ("u1", 1), "n2": ("u1", 2), "n3": ("u2", 1)})
    assert console_exactness(["n1", "n2", "n3"], good).ok
    missing = console_exactness(["n1", "n2", "n3", "n4"], good)
    assert not missing.ok and missing.figures["missing"] == 1
    assert console_exactness(["n1", "n2"], good).figures["extra"] == 1
    gap = stored(0, notifications={"n1": ("u1", 1), "n2": ("u1", 3)})
    assert console_exactness(["n1", "n2"], gap).figures["users_with_broken_seqs"] == 1
