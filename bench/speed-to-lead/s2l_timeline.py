"""The speed-to-lead benchmark's bookkeeping, pure (no I/O): when each lead is to be sent (an open-loop
schedule), what each stage saw of it (qualified, pooled, pushed, shown on the agent's screen), the checks
that nothing was lost, doubled or misdelivered, and the latency and throughput figures per stage.

Times are seconds since the epoch (every process of a run is on one machine, one clock). A latency is
measured from the lead's *scheduled* send time: a sender that falls behind its schedule (coordinated
omission) then shows as latency instead of hiding the queue it met."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telesales_testkit.bench import latency_summary

STAGES = ("qualified", "pooled", "pushed", "shown")
STAGE_TITLES = {"qualified": "leads.qualified.v1 published", "pooled": "stored in its pool (claimable)",
                "pushed": "allocation.assigned.v1 published", "shown": "notification read on the agent's SSE stream"}
SYSTEM = "system"  # assigned_by of a push nobody made


def schedule(start: float, rate: float, count: int) -> list[float]:
    """Send times fixed in advance: one every 1/rate s from `start`."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    return [start + i / rate for i in range(count)]


@dataclass(frozen=True, slots=True)
class Sending:
    """One lead as published on leads.received.v1: its event id, phase, and when it was due and sent."""

    event_id: str
    phase: str
    scheduled: float
    sent: float


@dataclass(slots=True)
class LeadTrack:
    """What every stage saw of one lead."""

    sending: Sending
    lead_ids: set[str] = field(default_factory=set)  # from leads.qualified.v1 (one expected)
    qualified: float | None = None
    pooled: float | None = None
    pushes: dict[str, tuple[str, str, float]] = field(default_factory=dict)  # event id -> (agent, by, at)
    shown: list[tuple[str, float]] = field(default_factory=list)  # (agent, at) per notification read

    @property
    def pushed(self) -> float | None:
        return min((at for _, _, at in self.pushes.values()), default=None)

    @property
    def agent(self) -> str | None:
        agents = {agent for agent, _, _ in self.pushes.values()}
        return next(iter(agents)) if len(agents) == 1 else None

    def at(self, stage: str) -> float | None:
        if stage == "shown":
            return min((at for _, at in self.shown), default=None)
        return getattr(self, stage)

    def problems(self) -> list[str]:
        """What went wrong with this lead (empty: every stage saw it once, the right agent read it once)."""
        if not self.lead_ids:
            return ["not qualified"]
        if len(self.lead_ids) > 1:
            return [f"qualified as {len(self.lead_ids)} leads"]
        found = []
        if self.pooled is None:
            found.append("not pooled")
        if not self.pushes:
            return [*found, "not pushed"]
        if len(self.pushes) > 1:
            found.append(f"pushed {len(self.pushes)} times")
        if any(by != SYSTEM for _, by, _ in self.pushes.values()):
            found.append("pushed by someone else than the system")
        if not self.shown:
            return [*found, "notification not shown"]
        if len(self.shown) > 1:
            found.append(f"notification shown {len(self.shown)} times")
        if self.agent is None or any(agent != self.agent for agent, _ in self.shown):
            found.append("notification shown to another agent than the lead's")
        return found


class Timeline:
    """Every lead of a run and what each stage saw of it, joined by the received event's id (which
    leads.qualified.v1 carries in its touch) and then by the lead id the intake gave it."""

    def __init__(self) -> None:
        self.by_event: dict[str, LeadTrack] = {}
        self.by_lead: dict[str, LeadTrack] = {}
        self.unknown_qualified = 0  # leads.qualified.v1 of no lead we sent
        # Records of a lead whose leads.qualified.v1 has not been read yet: one reader fetches several topics,
        # and a fast pipeline's assignment can come back before its qualification. Kept until it arrives.
        self.early: dict[str, list[tuple[str, Callable[[], None]]]] = defaultdict(list)
        self.redelivered: Counter[str] = Counter()  # the same event read again (at-least-once), by stage

    @property
    def strays(self) -> Counter[str]:
        """Records of no lead of ours, by stage (a record still waiting for its lead's qualification is one)."""
        found = Counter(stage for held in self.early.values() for stage, _ in held)
        if self.unknown_qualified:
            found["qualified"] += self.unknown_qualified
        return found

    def _track(self, stage: str, lead_id: str, replay: Callable[[], None]) -> LeadTrack | None:
        """The lead's track, or None with the record kept to be replayed once the lead is known."""
        track = self.by_lead.get(lead_id)
        if track is None:
            self.early[lead_id].append((stage, replay))
        return track

    def sent(self, sending: Sending) -> None:
        self.by_event[sending.event_id] = LeadTrack(sending)

    def qualified(self, *, received_event_id: str, lead_id: str, at: float) -> None:
        track = self.by_event.get(received_event_id)
        if track is None:
            self.unknown_qualified += 1
            return
        if lead_id in track.lead_ids:
            self.redelivered["qualified"] += 1
        track.lead_ids.add(lead_id)
        self.by_lead[lead_id] = track
        track.qualified = at if track.qualified is None else min(track.qualified, at)
        for _, replay in self.early.pop(lead_id, []):
            replay()

    def pooled(self, *, lead_id: str, at: float) -> None:
        track = self._track("pooled", lead_id, lambda: self.pooled(lead_id=lead_id, at=at))
        if track is None:
            return
        track.pooled = at

    def pushed(self, *, event_id: str, lead_id: str, agent: str, assigned_by: str, at: float) -> None:
        track = self._track("pushed", lead_id, lambda: self.pushed(event_id=event_id, lead_id=lead_id, agent=agent,
                                                                   assigned_by=assigned_by, at=at))
        if track is None:
            return
        if event_id in track.pushes:
            self.redelivered["pushed"] += 1
            return
        track.pushes[event_id] = (agent, assigned_by, at)

    def shown(self, *, agent: str, lead_id: str, at: float) -> None:
        track = self._track("shown", lead_id, lambda: self.shown(agent=agent, lead_id=lead_id, at=at))
        if track is None:
            return
        track.shown.append((agent, at))

    def phase(self, name: str) -> list[LeadTrack]:
        return [t for t in self.by_event.values() if t.sending.phase == name]

    def lead_ids_of(self, name: str) -> list[str]:
        return [lead_id for t in self.phase(name) for lead_id in t.lead_ids]


def _rate(count: int, start: float, end: float | None) -> float:
    return count / (end - start) if end is not None and end > start else math.nan


def stage_figures(tracks: Sequence[LeadTrack]) -> dict[str, Any]:
    """Per stage: how many leads reached it, latency from the scheduled send (p50/p99/max, ms), the
    throughput from the first send to the last lead reaching the stage, and how long after the stage before
    it was done (`behind_s`: the last lead here minus the last lead there; the last send for the first stage):
    a stage slower than its input keeps a queue and finishes well after it."""
    figures: dict[str, Any] = {}
    if not tracks:
        return figures
    first_sent = min(t.sending.sent for t in tracks)
    previous_last = max(t.sending.sent for t in tracks)
    for stage in STAGES:
        times = [(t.sending.scheduled, at) for t in tracks if (at := t.at(stage)) is not None]
        last = max((at for _, at in times), default=None)
        figures[stage] = {
            "reached": len(times),
            "latency": latency_summary([at - due for due, at in times]),
            "throughput_per_s": _rate(len(times), first_sent, last),
            "behind_s": last - previous_last if last is not None else math.nan,
        }
        previous_last = last if last is not None else previous_last
    figures["send_lag"] = latency_summary([t.sending.sent - t.sending.scheduled for t in tracks])
    figures["sent_per_s"] = _rate(len(tracks), first_sent, max(t.sending.sent for t in tracks))
    return figures


def slowest_stage(figures: dict[str, Any]) -> str:
    """The stage that finished longest after the stage before it: at saturation, the one that bounds the
    whole way (the stages after it only follow its pace)."""
    behind = {s: figures[s]["behind_s"] for s in STAGES if s in figures and not math.isnan(figures[s]["behind_s"])}
    return max(behind, key=behind.__getitem__) if behind else "?"


def problems_of(tracks: Iterable[LeadTrack]) -> dict[str, int]:
    """How many leads had each problem (empty: none lost, doubled or misdelivered)."""
    counts: Counter[str] = Counter()
    for track in tracks:
        counts.update(track.problems())
    return dict(counts)


def examples_of(tracks: Iterable[LeadTrack], limit: int = 5) -> list[str]:
    """A few leads with problems, for the report."""
    found: dict[str, list[str]] = defaultdict(list)
    for track in tracks:
        for problem in track.problems():
            if len(found[problem]) < limit:
                found[problem].append(f"{track.sending.event_id} ({', '.join(sorted(track.lead_ids)) or 'no lead'})")
    return [f"{problem}: {', '.join(ids)}" for problem, ids in found.items()]


def half_of_saturation(burst: int, first_sent: float, last_shown: float) -> float:
    """The paced rate of the last phase: half of the end-to-end throughput of the saturation burst (its
    leads over first send -> last notification read)."""
    if last_shown <= first_sent:
        raise ValueError("the burst was not shown after it was sent: no saturation to halve")
    return burst / (last_shown - first_sent) / 2


def holding_cap_needed(leads: int, agents: int, default_cap: int) -> int:
    """A holding cap every agent stays under when `leads` are pushed evenly over `agents` (with room for
    an uneven split): the tenant's default when that is enough."""
    per_agent = math.ceil(leads / max(agents, 1))
    return max(default_cap, 2 * per_agent + 20)
