"""Distribution on arrival: a pool whose routing rule says `on_arrival` pushes each lead that lands in it
(a qualified lead, or one back in it after a return, a reclaim or a reopening) to an agent of the rule's team by its strategy, in the same
consumer batch that stores it, through the same conditional assign as every push (the change and its
allocation.assigned.v1 in one write). Only agents at work get one, within caps and grades, never one who
dropped the lead; a resting lead is not pushed. A lead nobody can take stays pooled, with the reason on the lead, in the log and in a metric."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from prometheus_client import Counter

from telesales_contracts.allocation import DistributionStrategy

from .. import domain
from ..domain import DomainError
from ..domain.lead import POOLED
from ..store import Doc
from .applications import Applications
from .distributing import DistributionOutcome

log = logging.getLogger(__name__)

ARRIVAL_PUSHES = Counter("allocator_arrival_pushes_total",
                         "Leads arriving in push-on-arrival pools: placed, or left pooled and why.",
                         ["outcome", "reason"])
SYSTEM = "system"  # assigned_by of a push nobody made


def reason_label(reason: str) -> str:
    """The metric label of an unplaced reason (its code, without the detail in parentheses)."""
    return reason.split(" ", 1)[0]


class Arrival(Applications):
    async def push_arrivals(self, *, tenant: str, docs: Sequence[Doc], stored: Mapping[str, Doc] | None = None
                            ) -> list[DistributionOutcome]:
        """Push the pooled leads among `docs` that landed in a push-on-arrival pool, each by its pool's team and
        strategy, all of them in one distribution (a fixed number of round trips for a batch, however many
        teams it reaches). The others wait to be claimed, as before. `stored`: those leads as just read from
        the store (not read again)."""
        rules = await self.routing(tenant)
        groups: dict[tuple[str, DistributionStrategy], list[str]] = defaultdict(list)
        for doc in docs:
            push = domain.arrival_push(rules, doc.get("pool_id", ""))
            if push is not None and doc.get("status") == POOLED:
                groups[(push.team_id, push.strategy)].append(doc["_id"])
        if not groups:
            return []
        try:
            outcomes = [await self.distribute_groups(tenant=tenant, groups=dict(groups), actor=SYSTEM, unasked=True,
                                                     docs=stored)]
        except DomainError:  # e.g. agent_busy, and nothing written: each team's push on its own, as one push does
            outcomes = [await self._push_group(tenant, team_id, strategy, lead_ids)
                        for (team_id, strategy), lead_ids in groups.items()]
        team_of = {lead_id: team_id for (team_id, _), lead_ids in groups.items() for lead_id in lead_ids}
        await self._account(tenant, team_of, outcomes)
        return outcomes

    async def _push_group(self, tenant: str, team_id: str, strategy: DistributionStrategy,
                          lead_ids: list[str]) -> DistributionOutcome:
        try:
            return await self.distribute(tenant=tenant, lead_ids=lead_ids, actor=SYSTEM, team_id=team_id,
                                         strategy=strategy, unasked=True)
        except DomainError as error:  # the leads are stored; they wait in the pool
            return DistributionOutcome([], [{"lead_id": i, "reason": error.code} for i in lead_ids])

    async def push_back(self, *, tenant: str, lead_ids: Sequence[str]) -> None:
        """Leads back in their pool (returned, reclaimed, reopened) arrive again: a push pool pushes them on; the rest
        serve the applications waiting for their pools."""
        if lead_ids:
            docs = list((await self.store.get_leads(tenant, lead_ids)).values())
            await self.push_arrivals(tenant=tenant, docs=docs)
            await self.serve_applications(tenant=tenant, pool_ids={d["pool_id"] for d in docs})

    async def _account(self, tenant: str, team_of: Mapping[str, str], outcomes: Sequence[DistributionOutcome]
                       ) -> None:
        missed = [miss for outcome in outcomes for miss in outcome.unplaced]
        ARRIVAL_PUSHES.labels("placed", "").inc(sum(len(outcome.placements) for outcome in outcomes))
        for miss in missed:
            ARRIVAL_PUSHES.labels("left_pooled", reason_label(miss["reason"])).inc()
            log.info("lead %s arrived in a push pool of team %s and stays pooled: %s", miss["lead_id"],
                     team_of.get(miss["lead_id"]), miss["reason"], extra={"tenant": tenant})
        if missed:
            await self.store.note_push_missed(tenant, [(m["lead_id"], m["reason"]) for m in missed], datetime.now(UTC))
