"""The pure parts of the scale-out benchmark: what the run must have ended with (every lead qualified once,
pooled once, counted once) and the figures of each phase, from what the run collected. No I/O here, so
tests/test_scale_out_bench.py checks the arithmetic."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class QualifiedRead:
    """One leads.qualified.v1 record of the run's tenant as read from the topic."""

    event_id: str
    received_event_id: str  # data.touch.event_id: the leads.received.v1 event it answers
    lead_id: str
    at: float  # its Kafka timestamp, epoch seconds


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of the ledger to a purchase request, as read from its topic."""

    event_id: str
    transfer_id: str
    posted: bool
    at: float


@dataclass
class Stored:
    """What the services' databases hold for the run's tenant at the end."""

    intake_leads: int  # lead-intake's `leads` documents
    allocator_lead_ids: list[str]  # the allocator's `leads` documents (`_id` is the lead id)
    metrics_created: int  # metrics' all-time `pool:created` counter (checkpointed)
    metrics_event_ids: int  # event ids the metrics checkpoints stored (the `seen` digests)
    metrics_distinct_ids: int
    metrics_expected: int  # distinct events of the tenant on the topics metrics consumes, as read
    dead_letters: int = 0  # platform.dead-lettered.v1 records of the tenant
    ledger_posted: int = 0  # the ledger's `transfers` of the tenant, kind purchase, posted
    ledger_rejected: int = 0
    market_purchases: int = 0  # the marketplace's `purchases` documents
    market_granted: int = 0
    notifications: dict[str, tuple[str, int]] = field(default_factory=dict)  # the console's: id -> (user, seq)


@dataclass
class Exactness:
    ok: bool
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def exactness(sent: Iterable[str], qualified: Sequence[QualifiedRead], stored: Stored) -> Exactness:
    """Every lead sent qualified once (one qualified event, one lead), stored once by lead-intake, pooled once
    by the allocator and counted once by metrics. The same qualified event read twice is a redelivery (the
    outbox relays at least once; consumers drop it by its id) and is reported, not a fault; two different
    qualified events for one received lead are a double effect."""
    sent_ids = set(sent)
    events_of: dict[str, set[str]] = defaultdict(set)
    leads_of: dict[str, set[str]] = defaultdict(set)
    reads = Counter(q.event_id for q in qualified)
    for q in qualified:
        events_of[q.received_event_id].add(q.event_id)
        leads_of[q.received_event_id].add(q.lead_id)
    missing = sorted(sent_ids - events_of.keys())
    strays = sorted(events_of.keys() - sent_ids)
    doubled = sorted(r for r in sent_ids & events_of.keys() if len(events_of[r]) > 1 or len(leads_of[r]) > 1)
    lead_ids = {lead for r in sent_ids for lead in leads_of.get(r, ())}
    pooled = Counter(stored.allocator_lead_ids)
    n = len(sent_ids)
    figures = {
        "sent": n, "qualified_events": len(reads), "qualified_redelivered": sum(c - 1 for c in reads.values()),
        "qualified_missing": len(missing), "qualified_doubled": len(doubled), "strays": len(strays),
        "intake_stored": stored.intake_leads, "pooled": len(stored.allocator_lead_ids),
        "pooled_distinct": len(pooled), "pooled_not_qualified": len(pooled.keys() - lead_ids),
        "qualified_not_pooled": len(lead_ids - pooled.keys()), "metrics_created": stored.metrics_created,
        "metrics_event_ids": stored.metrics_event_ids, "metrics_distinct_ids": stored.metrics_distinct_ids,
        "metrics_expected": stored.metrics_expected, "dead_letters": stored.dead_letters,
    }
    problems = []
    if missing:
        problems.append(f"{len(missing):,} leads sent were never qualified (e.g. {missing[:3]})")
    if doubled:
        problems.append(f"{len(doubled):,} leads were qualified twice, as different events (e.g. {doubled[:3]})")
    if strays:
        problems.append(f"{len(strays):,} qualified events answer no lead of this run")
    if stored.intake_leads != n:
        problems.append(f"lead-intake stores {stored.intake_leads:,} leads of the tenant, not {n:,}")
    if len(stored.allocator_lead_ids) != n or len(pooled) != n or pooled.keys() != lead_ids:
        problems.append(f"the allocator pooled {len(stored.allocator_lead_ids):,} leads ({len(pooled):,} distinct, "
                        f"{figures['pooled_not_qualified']:,} not qualified, {figures['qualified_not_pooled']:,} "
                        f"qualified but not pooled), not the {n:,} qualified")
    if stored.metrics_created != n:
        problems.append(f"metrics counted {stored.metrics_created:,} leads created, not {n:,}")
    if not stored.metrics_event_ids == stored.metrics_distinct_ids == stored.metrics_expected:
        problems.append(f"metrics' checkpoints hold {stored.metrics_event_ids:,} event ids "
                        f"({stored.metrics_distinct_ids:,} distinct), the topics carry {stored.metrics_expected:,}")
    if stored.dead_letters:
        problems.append(f"{stored.dead_letters:,} events of the run were dead-lettered")
    return Exactness(not problems, figures, problems)


def rate(count: int, first: float, last: float | None) -> float:
    """Items per second from the first send to the last item done; NaN when it never finished."""
    if last is None or count <= 0 or last <= first:
        return math.nan
    return count / (last - first)


def longest_gap(times: Iterable[float], start: float, end: float) -> float:
    """The longest time from `start` to the last item done by `end` with no item done: how long a kill
    stalled the stream (the quiet after the last item is no stall: there was nothing left to do)."""
    points = sorted(t for t in times if start <= t <= end)
    edges = [start, *points]
    return max((b - a for a, b in zip(edges, edges[1:], strict=False)), default=0.0)


def cpu_per_item_us(cpu_s: Mapping[str, float], services: Sequence[str], count: int) -> dict[str, float]:
    """µs of CPU per item for each service (all its replicas), from a phase's CPU seconds by process label
    `<service>#<n>`."""
    out = {}
    for service in services:
        total = sum(v for label, v in cpu_s.items() if label.split("#", 1)[0] == service)
        out[service] = 1e6 * total / count if count else math.nan
    return out


def scaling(per_replicas: Mapping[int, float]) -> dict[int, float]:
    """Throughput at k replicas against one replica's (1.0 = no gain)."""
    one = per_replicas.get(1)
    if not one or math.isnan(one):
        return {}
    return {k: v / one for k, v in per_replicas.items()}


def owner_pid(owner: str | None) -> int | None:
    """The pid in a MongoLease owner (`host:pid:id`), or None."""
    parts = (owner or "").split(":")
    try:
        return int(parts[-2]) if len(parts) >= 3 else None
    except ValueError:
        return None


def coins_exactness(requested: Iterable[str], answers: Sequence[Answer], stored: Stored) -> Exactness:
    """Every purchase answered once by the ledger (one answer event; the same one read twice is a
    redelivery), posted (the run funds every buyer within the limits), stored once by the ledger, and stored
    once and granted by the marketplace."""
    requested_ids = set(requested)
    events_of: dict[str, set[str]] = defaultdict(set)
    for a in answers:
        events_of[a.transfer_id].add(a.event_id)
    first = {}
    for a in answers:
        first.setdefault(a.transfer_id, a)
    missing = sorted(requested_ids - events_of.keys())
    strays = sorted(events_of.keys() - requested_ids)
    doubled = sorted(t for t in requested_ids & events_of.keys() if len(events_of[t]) > 1)
    rejected = sorted(t for t, a in first.items() if t in requested_ids and not a.posted)
    figures = {"requested": len(requested_ids), "answers": len({a.event_id for a in answers}),
               "answers_redelivered": len(answers) - len({a.event_id for a in answers}),
               "unanswered": len(missing), "answered_twice": len(doubled), "rejected": len(rejected),
               "strays": len(strays), "stored_posted": stored.ledger_posted, "stored_rejected": stored.ledger_rejected,
               "market_purchases": stored.market_purchases, "market_granted": stored.market_granted}
    problems = []
    if missing:
        problems.append(f"{len(missing):,} purchase requests were never answered (e.g. {missing[:3]})")
    if doubled:
        problems.append(f"{len(doubled):,} purchase requests were answered twice (e.g. {doubled[:3]})")
    if rejected:
        problems.append(f"{len(rejected):,} purchases were rejected though every buyer was funded (e.g. {rejected[:3]})")
    if strays:
        problems.append(f"{len(strays):,} answers answer no request of this run")
    posted = len(requested_ids) - len(missing) - len(rejected)
    if stored.ledger_posted != posted or stored.ledger_rejected != len(rejected):
        problems.append(f"the ledger stores {stored.ledger_posted:,} posted and {stored.ledger_rejected:,} rejected "
                        f"purchases; the answers say {posted:,} and {len(rejected):,}")
    if stored.market_purchases != len(requested_ids) or stored.market_granted != posted:
        problems.append(f"the marketplace stores {stored.market_purchases:,} purchases, {stored.market_granted:,} "
                        f"granted; {len(requested_ids):,} were made and {posted:,} posted")
    return Exactness(not problems, figures, problems)


def console_exactness(expected: Iterable[str], stored: Stored) -> Exactness:
    """Every notification the run's events make stored once by the console (its id is derived from the
    user, the event and the part, so a repeat cannot hide), and each user's seqs 1..n without a gap or a
    repeat (a counter moved twice for one notification would leave a gap)."""
    want = set(expected)
    missing, extra = want - stored.notifications.keys(), stored.notifications.keys() - want
    seqs: dict[str, list[int]] = defaultdict(list)
    for user, seq in stored.notifications.values():
        seqs[user].append(seq)
    broken = sorted(u for u, s in seqs.items() if sorted(s) != list(range(1, len(s) + 1)))
    figures = {"expected": len(want), "stored": len(stored.notifications), "missing": len(missing),
               "extra": len(extra), "users": len(seqs), "users_with_broken_seqs": len(broken)}
    problems = []
    if missing:
        problems.append(f"{len(missing):,} notifications were never stored by the console")
    if extra:
        problems.append(f"the console stored {len(extra):,} notifications no event of the run makes")
    if broken:
        problems.append(f"{len(broken):,} users' notification seqs have gaps or repeats (e.g. {broken[:3]})")
    return Exactness(not problems, figures, problems)
