"""The phases of a scale-out run and their figures, from what the run recorded (pure: no I/O)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scale_checks import Answer, QualifiedRead, cpu_per_item_us, longest_gap, rate, scaling

SERVICES = ("lead-intake", "allocator", "metrics", "ledger", "marketplace", "console")
# What each service's CPU is counted in (its throughput too, but metrics' in leads counted).
UNIT = {"lead-intake": "lead", "allocator": "lead", "metrics": "event", "ledger": "purchase", "marketplace": "purchase",
        "console": "notification"}


@dataclass
class Phase:
    name: str
    replicas: int
    sent_ids: list[str] = field(default_factory=list)
    transfer_ids: list[str] = field(default_factory=list)
    notifications: int = 0  # the console's notifications of the run once the phase was done (all phases so far)
    first_send: float = math.nan
    done: float = math.nan
    cpu: dict[str, Any] = field(default_factory=dict)
    work_before: dict[str, float] = field(default_factory=dict)
    work_after: dict[str, float] = field(default_factory=dict)

    def sent(self, event_id: str, at: float) -> None:
        self.first_send = min(self.first_send, at) if self.sent_ids or self.transfer_ids else at
        self.sent_ids.append(event_id)

    def requested(self, transfer_id: str, at: float) -> None:
        self.first_send = min(self.first_send, at) if self.sent_ids or self.transfer_ids else at
        self.transfer_ids.append(transfer_id)


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    qualified: int
    pooled: int
    counted: int
    answered: int = 0  # purchases the ledger answered
    granted: int = 0  # purchases the marketplace granted
    notified: int = 0  # notifications the console stored

    def all_at(self, leads: int, purchases: int = 0, notifications: int = 0) -> bool:
        return (min(self.qualified, self.pooled, self.counted) >= leads and min(self.answered, self.granted) >= purchases
                and self.notified >= notifications)


class Progress:
    """The totals of the run's tenant over time: leads qualified (distinct, as read), pooled, counted."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    def sample(self, at: float, qualified: int, pooled: int, counted: int, answered: int = 0, granted: int = 0,
               notified: int = 0) -> None:
        self.samples.append(Sample(at, qualified, pooled, counted, answered, granted, notified))

    @property
    def last(self) -> Sample:
        return self.samples[-1] if self.samples else Sample(0.0, 0, 0, 0)

    def reached(self, field_: str, target: int) -> float | None:
        """When the total `field_` first reached `target`."""
        return next((s.at for s in self.samples if getattr(s, field_) >= target), None)

    def steps(self, field_: str) -> list[float]:
        """When the total `field_` went up."""
        return [b.at for a, b in zip(self.samples, self.samples[1:], strict=False)
                if getattr(b, field_) > getattr(a, field_)]


def phase_figures(phases: Sequence[Phase], qualified: Sequence[QualifiedRead], pooled_at: Mapping[str, float],
                  progress: Progress, kill_at: float | None, answers: Sequence[Answer] = ()) -> dict[str, Any]:
    """Each phase's throughput by stage (from its first send to its last lead or purchase done there; metrics'
    in leads counted), CPU per item per service (UNIT), the work of each replica; the stalls of the kill phase;
    the scaling of the bursts."""
    answered: dict[str, float] = {}
    for a in answers:
        answered[a.transfer_id] = min(a.at, answered.get(a.transfer_id, a.at))
    first_qualified: dict[str, QualifiedRead] = {}
    for q in qualified:
        if q.received_event_id not in first_qualified or q.at < first_qualified[q.received_event_id].at:
            first_qualified[q.received_event_id] = q
    out: dict[str, Any] = {}
    target = bought = notified = 0
    for phase in phases:
        notes, notified = phase.notifications - notified, phase.notifications
        target += len(phase.sent_ids)
        bought += len(phase.transfer_ids)
        reads = [first_qualified[e] for e in phase.sent_ids if e in first_qualified]
        pooled = [pooled_at[q.lead_id] for q in reads if q.lead_id in pooled_at]
        complete = len(reads) == len(pooled) == len(phase.sent_ids)
        n, t = len(phase.sent_ids), len(phase.transfer_ids)
        answer_times = [answered[x] for x in phase.transfer_ids if x in answered]
        figures: dict[str, Any] = {
            "replicas": phase.replicas, "leads": n, "purchases": t, "notifications": notes,
            "first_send": phase.first_send,
            "seconds": phase.done - phase.first_send,
            "per_s": {"lead-intake": rate(n, phase.first_send, max((q.at for q in reads), default=None)),
                      "allocator": rate(n, phase.first_send, max(pooled, default=None)) if complete else math.nan,
                      "metrics": rate(n, phase.first_send, progress.reached("counted", target)),
                      "ledger": rate(t, phase.first_send, max(answer_times, default=None))
                      if len(answer_times) == t else math.nan,
                      "marketplace": rate(t, phase.first_send, progress.reached("granted", bought)),
                      "console": rate(notes, phase.first_send, progress.reached("notified", notified))},
            # per lead; the ledger per purchase; metrics per event it counted (a lead's and a purchase's)
            "cpu_us_per_item": {**cpu_per_item_us(phase.cpu.get("cpu_s", {}), ("lead-intake", "allocator"), n),
                                **cpu_per_item_us(phase.cpu.get("cpu_s", {}), ("metrics",), n + t),
                                **cpu_per_item_us(phase.cpu.get("cpu_s", {}), ("ledger", "marketplace"), t),
                                **cpu_per_item_us(phase.cpu.get("cpu_s", {}), ("console",), notes)},
            "cpu": phase.cpu,
            "work_per_replica": {label: phase.work_after.get(label, 0.0) - phase.work_before.get(label, 0.0)
                                 for label in sorted(phase.work_before.keys() | phase.work_after.keys())},
        }
        if kill_at is not None and phase.first_send <= kill_at <= phase.done:
            figures["stall_s"] = {
                "lead-intake": longest_gap((q.at for q in reads), phase.first_send, phase.done),
                "allocator": longest_gap(pooled, phase.first_send, phase.done),
                "metrics": longest_gap(progress.steps("counted"), phase.first_send, phase.done),
                "ledger": longest_gap(answer_times, phase.first_send, phase.done),
                "marketplace": longest_gap(progress.steps("granted"), phase.first_send, phase.done),
                "console": longest_gap(progress.steps("notified"), phase.first_send, phase.done),
            }
        out[phase.name] = figures
    bursts = {p.replicas: out[p.name]["per_s"] for p in phases if p.name != "kill/add"}
    out_scaling = {s: scaling({k: v[s] for k, v in bursts.items()}) for s in SERVICES}
    return {"by_phase": out, "scaling_vs_1_replica": out_scaling}
