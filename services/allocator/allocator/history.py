"""A lead's history: what the allocator knows happened to it, for the lead's page. One bounded list per
lead (the last HISTORY_LIMIT entries), appended by the same single-document update that makes the change,
so the history can neither miss a change nor record one that did not happen.

This module decides what an entry says (pure, no I/O); the updates carry it to the store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

HISTORY_LIMIT = 100
HISTORY = "history"

HolderChangeKind = Literal["claimed", "assigned", "returned", "reclaimed", "closed", "won"]
EntryKind = Literal["claimed", "assigned", "returned", "reclaimed", "closed", "won", "reopened", "call", "stage",
                    "signal", "deal_mark", "win_confirmed", "win_rejected"]

Doc = dict[str, Any]


def _entry(kind: EntryKind, at: datetime, **details: Any) -> Doc:
    # unset details are left out: an entry stores only what it says
    return {"kind": kind, "at": at, **{k: v for k, v in details.items() if v is not None}}


def holder_change(kind: HolderChangeKind, agent_id: str | None, at: datetime, *, reason: str | None = None,
                  via: str | None = None, reclaim_kind: str | None = None, amount_fen: int | None = None) -> Doc:
    """The lead changed holder: `agent_id` got it (claimed, assigned) or lost it (the rest; None: a lead
    nobody held was closed). `via`: the tier a lead was claimed from, or the strategy that assigned it."""
    return _entry(kind, at, agent_id=agent_id, reason=reason, via=via, reclaim_kind=reclaim_kind,
                  amount_fen=amount_fen)


def reopened(at: datetime) -> Doc:
    """A closed lead is live again (the person came back) and went back to its pool."""
    return _entry("reopened", at)


def call(*, agent_id: str, started_at: datetime, duration_seconds: int, connected: bool) -> Doc:
    return _entry("call", started_at, agent_id=agent_id, duration_seconds=duration_seconds, connected=connected)


def stage(*, stage_percent: int, funnel_step: str | None, agent_id: str | None, deal_in_progress: bool | None,
          at: datetime) -> Doc:
    """A stage move as it was asked for (a backward funnel step is not applied to the lead, see
    store/lead_writes.py, but it was said)."""
    return _entry("stage", at, agent_id=agent_id, stage_percent=stage_percent, funnel_step=funnel_step,
                  deal_in_progress=deal_in_progress)


def signal(*, kind: str, detail: str | None, occurred_at: datetime, agent_id: str | None = None) -> Doc:
    """A moment that matters on the customer's side; `agent_id`: the agent alerted, if any."""
    return _entry("signal", occurred_at, signal_kind=kind, detail=detail, agent_id=agent_id)


def deal_mark(*, status: str, agent_id: str, at: datetime, reason: str | None = None,
              expires_at: datetime | None = None) -> Doc:
    """A deal-in-progress mark asked for (`pending`, by the holder) or decided (by the supervisor)."""
    return _entry("deal_mark", at, agent_id=agent_id, deal_mark_status=status, reason=reason, expires_at=expires_at)


def win_confirmed(*, by: str, confirmer: str, order_ref: str | None, amount_fen: int, at: datetime) -> Doc:
    """A declared win confirmed: by an order (`confirmer`: the system it came from) or by a supervisor."""
    return _entry("win_confirmed", at, agent_id=confirmer, via=by, order_ref=order_ref, amount_fen=amount_fen)


def win_rejected(*, by: str, rejecter: str, reason: str, order_ref: str | None, amount_fen: int | None,
                 at: datetime) -> Doc:
    """A declared win rejected: by a lost order (`rejecter`: the system it came from) or by a supervisor; the
    lead is held again by its winner."""
    return _entry("win_rejected", at, agent_id=rejecter, via=by, reason=reason, order_ref=order_ref,
                  amount_fen=amount_fen)


def with_history(update: Doc, entries: Sequence[Doc]) -> Doc:
    """An update document extended to append `entries` to the lead's history, keeping the last
    HISTORY_LIMIT (merged with the update's own $push, if any)."""
    if not entries:
        return update
    merged = {op: dict(fields) for op, fields in update.items()}
    merged.setdefault("$push", {})[HISTORY] = {"$each": list(entries), "$slice": -HISTORY_LIMIT}
    return merged


def merged(update: Doc, extra: Doc) -> Doc:
    """Two update documents as one; history entries of both are kept (the update's first)."""
    out = {op: dict(fields) for op, fields in update.items()}
    for op, fields in extra.items():
        for name, value in fields.items():
            mine = out.get(op, {}).get(name)
            if op == "$push" and name == HISTORY and mine is not None:
                value = {"$each": [*mine["$each"], *value["$each"]], "$slice": -HISTORY_LIMIT}
            out.setdefault(op, {})[name] = value
    return out


def appended_in_pipeline(entries: Sequence[Any]) -> Doc:
    """For an update pipeline's $set: the history with `entries` (expressions; wrap plain values in
    $literal) appended, keeping the last HISTORY_LIMIT."""
    return {HISTORY: {"$slice": [{"$concatArrays": [{"$ifNull": [f"${HISTORY}", []]}, list(entries)]},
                                 -HISTORY_LIMIT]}}


def literal(entry: Mapping[str, Any]) -> Doc:
    """An entry as a pipeline expression (a string starting with "$" would be read as a field path)."""
    return {key: {"$literal": value} for key, value in entry.items()}


def in_time_order(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Entries by the time they happened (a call is dated when it started, a signal when the outside
    system saw it, so arrival order is not time order); ties keep the order they were recorded in."""
    return sorted(entries, key=lambda e: e["at"])
