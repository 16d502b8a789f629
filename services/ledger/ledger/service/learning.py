"""The learning that keeps a wallet's coins (不学回收): `marketplace.learn-progressed.v1` consumed, each event
id once (the inbox, in the same transaction as its effects), each report adding the watch time and tips it
learned (`domain.learn`) and moving the holder's wallet clock."""

from __future__ import annotations

from collections.abc import Sequence

from telesales_runtime.consumer import Delivery

from .. import domain
from ..domain import Changes, LearnReport, Processed
from ..store import Session
from .core import LedgerCore, utcnow


async def handle_learn_progressed(*, ledger: LedgerCore, deliveries: Sequence[Delivery]) -> None:
    async def handle(tenant: str, fresh: list[Delivery]) -> None:
        now = utcnow()
        # A report's time is capped at now: a report dated in the future must not keep coins for longer.
        reports = [LearnReport(d.event.data.user_id, d.event.data.tip_id, d.event.data.watched_seconds,
                               d.event.data.learned, min(d.event.data.at, now)) for d in fresh]

        async def build(session: Session) -> tuple[Changes, None]:
            known = await ledger.store.learning.progress(tenant, [(r.user_id, r.tip_id) for r in reports], session)
            learned = domain.learn(reports, known)
            changes = Changes(tenant, now)
            changes.learning = list(learned.values())
            changes.inbox = [Processed(d.event.id, {"status": "learning_recorded"}) for d in fresh]
            return changes, None

        await ledger.commit(build)

    await ledger.per_tenant(deliveries, handle)
