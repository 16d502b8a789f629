"""The roster the ledger keeps for allocations by role and grade (agents.changed.v1, agents.graded.v1): the
latest record of each person wins."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from telesales_runtime.consumer import Delivery

from ..domain import Changes, Processed, RosterUpdate
from ..store import Session
from .core import LedgerCore, utcnow


async def handle_agents_changed(*, ledger: LedgerCore, deliveries: Sequence[Delivery]) -> None:
    """Keep the latest roster record per person (by the event's time; an older one arriving late is ignored)."""
    async def changes(tenant: str, fresh: list[Delivery]) -> None:
        def update(user_id: str, d: Delivery, now: datetime) -> RosterUpdate:
            record = d.event.data.model_dump(mode="json")
            return RosterUpdate(user_id, {**{k: v for k, v in record.items() if k != "agent_id"},
                                          "hr_time": d.event.time, "updated_at": now},
                                {"grade": None, "created_at": now})

        await _keep_latest(ledger, tenant, fresh, lambda d: d.event.time, "hr_time", update, "roster_updated")

    await ledger.per_tenant(deliveries, changes)


async def handle_agents_graded(*, ledger: LedgerCore, deliveries: Sequence[Delivery]) -> None:
    """Keep each agent's latest weekly grade (an older week arriving late is ignored)."""
    async def changes(tenant: str, fresh: list[Delivery]) -> None:
        def update(user_id: str, d: Delivery, now: datetime) -> RosterUpdate:
            return RosterUpdate(user_id, {"grade": d.event.data.grade, "graded_week": d.event.data.week,
                                          "updated_at": now},
                                {"name": user_id, "role": "agent", "active": True, "team_id": d.event.data.team_id,
                                 "created_at": now})

        await _keep_latest(ledger, tenant, fresh, lambda d: d.event.data.week, "graded_week", update, "grade_updated")

    await ledger.per_tenant(deliveries, changes)


async def _keep_latest(ledger: LedgerCore, tenant: str, fresh: list[Delivery], version: Callable[[Delivery], Any],
                       stored_version: str, update: Callable[[str, Delivery, datetime], RosterUpdate],
                       status: str) -> None:
    """Upsert each agent's latest record of `fresh` (by `version`) unless the user stored already holds a
    later one (its field `stored_version`), and record every delivery in the inbox with `status`."""
    latest: dict[str, Delivery] = {}
    for d in fresh:
        known = latest.get(d.event.data.agent_id)
        if known is None or version(known) <= version(d):
            latest[d.event.data.agent_id] = d
    now = utcnow()

    async def build(session: Session) -> tuple[Changes, None]:
        stored = await ledger.store.users_by_id(tenant, latest, session)
        changes = Changes(tenant, now)
        for user_id, d in latest.items():
            seen = stored.get(user_id, {}).get(stored_version)
            if seen is not None and seen > version(d):
                continue
            changes.roster.append(update(user_id, d, now))
        changes.inbox = [Processed(d.event.id, {"status": status}) for d in fresh]
        return changes, None

    await ledger.commit(build)
