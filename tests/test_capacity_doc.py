"""docs/capacity.md's generator (bench/capacity/): reports recognised by content, figures tagged with their
run, a missing report named and nothing computed from it, the arithmetic of replicas and partitions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "capacity"))

import capacity_model as m  # noqa: E402
import make_capacity  # noqa: E402


def cpu(**cpu_s: float) -> dict[str, object]:
    return {"cpu_s": cpu_s}


INTAKE = {"run": "intake-run", "date": "2026-12-07T10:00:00+00:00", "git": {"commit": "abc", "dirty_files": []},
          "cpu_count": 8, "leads": 10_000, "intake": {"cpu": cpu(**{"lead-intake under test": 2.5, "mongod": 1.0})},
          "ceiling_kafka": {}, "ceiling_mongo": {"avg_doc_bytes": 2000}, "warnings": []}
METRICS = {"run": "metrics-run", "date": "2026-12-07T10:00:00+00:00", "git": {"commit": "abc"}, "cpu_count": 8,
           "scrape": {}, "rounds": [{"ingest": {"events": 100_000, "cpu": cpu(**{"metrics under test": s,
                                                                                  "mongod": 1.0})}}
                                    for s in (30.0, 10.0, 20.0)]}


def test_reports_are_recognised_by_content() -> None:
    assert m.kind_of(INTAKE) == "intake" and m.kind_of(METRICS) == "metrics"
    assert m.kind_of({"exactness": {}, "partitions": 12}) == "scale-out"
    assert m.kind_of({"something": "else"}) is None


def test_the_costs_are_cpu_per_event_tagged_with_their_run() -> None:
    costs = m.costs({"intake": INTAKE, "metrics": METRICS})
    assert costs["lead path", "lead-intake"] == m.Figure(250.0, "intake-run", costs["lead path", "lead-intake"].what)
    assert costs["metrics ingest", "metrics"].value == pytest.approx(200.0)  # the median round
    assert f"{costs['lead path', 'lead-intake']}" == "250 [intake-run]"
    assert ("claims", "allocator") not in costs  # no allocator report: nothing made up


def test_replicas_partitions_and_headroom() -> None:
    assert m.replicas_for(0.01) == m.MIN_REPLICAS and m.replicas_for(1.6) == 4
    assert m.partitions_for(2) == 12 and m.partitions_for(8) == 18
    group = m.ServiceNeed("allocator", [m.Need("claims", "allocator", 1000.0, m.Figure(1000.0, "r", ""))])
    assert group.cores == pytest.approx(1.0) and group.replicas == 2 and group.headroom == pytest.approx(12.0)
    sole = m.ServiceNeed("metrics", [m.Need("metrics ingest", "metrics", 1000.0, m.Figure(500.0, "r", ""))])
    assert sole.replicas == m.MIN_REPLICAS and sole.headroom == pytest.approx(2.0)
    unmeasured = m.ServiceNeed("ledger", [m.Need("purchases (ledger)", "ledger", 10.0, None)])
    assert not unmeasured.measured and unmeasured.headroom is None


def test_the_doc_names_what_is_missing_and_the_newest_report_wins(tmp_path: Path) -> None:
    older = {**INTAKE, "run": "older-run", "date": "2026-12-06T10:00:00+00:00"}
    for name, report in (("a.json", INTAKE), ("b.json", older), ("m.json", METRICS), ("junk.json", [1])):
        (tmp_path / name).write_text(json.dumps(report))
    (tmp_path / "broken.json").write_text("{")
    loaded = make_capacity.load_reports([tmp_path])
    assert set(loaded) == {"intake", "metrics"} and loaded["intake"][1]["run"] == "intake-run"
    text = make_capacity.render(loaded, "def", "2026-12-07T12:00+00:00")
    assert "| allocator | MISSING |" in text and "run `make bench-allocator`" in text
    assert "stale: measured on abc, the doc on def" in text
    assert "250 [intake-run]" in text and "older-run" not in text
    assert "**metrics (metrics ingest)** saturates first" in text and "MongoDB (1 shard(s) of 8 vCPU)" in text
    assert "metrics is the one consumer that more replicas cannot speed up" in text
    assert "Not counted (their mongod CPU is MISSING): lead path, claims," in text


def test_memory_peaks_are_found_wherever_a_bench_keeps_its_memory_table() -> None:
    reports = {
        "metrics": {"run": "m1", "rounds": [
            {"ingest": {"memory": {"ready": {"metrics": 100}, "peak: round 1": {"metrics": 500, "mongod": 9}}}},
            {"ingest": {"memory": {"peak: round 2": {"metrics": 450}}}}]},
        "scale-out": {"run": "s1", "memory_rss_bytes": {"peak": {"metrics#2": 300, "ledger#1": 90}}},
        "intake": {"run": "i1", "memory": {"peak": {"lead-intake": 200}}, "leads": 5},
    }
    peaks = make_capacity.memory_peaks(reports)
    assert (peaks["metrics"].value, peaks["metrics"].run) == (500, "m1")
    assert (peaks["ledger"].value, peaks["lead-intake"].value) == (90, 200)
