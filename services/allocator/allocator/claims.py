"""Taking leads for claims, in groups.

Claims on the same tier all want the best-scored leads of the same pools. Sent one by one, concurrent
claims race for the same top document, and MongoDB retries the losers (write conflicts). Instead, the
claims of this replica on one tier queue up and are served together, one group at a time: one read of
the best pooled leads, a split of them in the order the claims arrived (earlier claims get the better
leads; nobody gets a lead they dropped), one conditional `update_many` that takes them, and one read of
what was taken. A lead is given at most once: the write matches a lead only while it is still pooled
and unchanged since it was read (same drop count), each document atomically. A claim whose lead was
taken meanwhile (by another replica) is served again in the next round.

While a group is at the database the next one gathers, so a lone claim is served at once and a busy
floor gets fewer, larger writes. A group that is one claim for one lead (a quiet floor) skips the read:
one `find_one_and_update` takes the best lead the agent may have. (Letting the next group pick while the previous one writes was
measured: smaller groups, more work per claim in MongoDB, fewer claims per second.) The holding cap and quota are checked before, under the agent's lock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import domain
from .domain import AgentFacts, AllocationPolicy, Tier
from .store import AllocatorStore, Doc
from .store.claim_writes import as_claimed, claim_pipeline, claim_stages, claimable_query, not_dropped_by

log = logging.getLogger(__name__)

MAX_GROUP = 64  # claims served by one write
MAX_ROUNDS = 8  # rounds a claim waits for leads other replicas keep taking first


@dataclass(eq=False)
class ClaimRequest:
    agent: AgentFacts
    want: int
    taken: list[Doc] = field(default_factory=list)
    lost: int = 0  # leads split to this claim that another replica took first, last round
    done: asyncio.Future[list[Doc]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(eq=False)
class _Tier:
    """The claims of this replica waiting on one tier (and set of pools)."""

    tier: Tier
    policy: AllocationPolicy
    waiting: list[ClaimRequest] = field(default_factory=list)
    serving: asyncio.Task[None] | None = None  # the task serving the groups (a reference keeps it alive)


def _fail(requests: list[ClaimRequest], error: BaseException) -> None:
    for request in requests:
        if not request.done.done():
            request.done.set_exception(error if isinstance(error, Exception) else RuntimeError(repr(error)))


class ClaimDispenser:
    def __init__(self, store: AllocatorStore, source: str) -> None:
        self.store = store
        self.source = source
        self._tiers: dict[tuple[str, str, tuple[str, ...]], _Tier] = {}

    async def claim(self, tenant: str, pools: list[str], tier: Tier, policy: AllocationPolicy, agent: AgentFacts,
                    want: int) -> list[Doc]:
        """Up to `want` of the best leads of the tier for the agent, best first."""
        key = (tenant, tier.tier_id, tuple(sorted(pools)))
        state = self._tiers.get(key)
        if state is None:
            state = self._tiers[key] = _Tier(tier, policy)
        state.tier, state.policy = tier, policy  # the latest configuration serves the next group
        request = ClaimRequest(agent, want)
        state.waiting.append(request)
        if state.serving is None:
            state.serving = asyncio.get_running_loop().create_task(self._work(key, state))
        return await request.done

    async def _work(self, key: tuple[str, str, tuple[str, ...]], state: _Tier) -> None:
        tenant, _, pools = key
        try:
            while state.waiting:
                group = state.waiting[:MAX_GROUP]
                del state.waiting[:MAX_GROUP]
                try:
                    await self._serve_group(tenant, list(pools), state, group)
                except BaseException as error:  # each claim of the group gets the error
                    _fail(group, error)
                    if not isinstance(error, Exception):
                        raise
                for request in group:
                    if not request.done.done():
                        request.done.set_result(request.taken)
        finally:
            _fail(state.waiting, RuntimeError("the claim service stopped"))  # only when cancelled
            state.waiting.clear()
            state.serving = None
            if self._tiers.get(key) is state:
                del self._tiers[key]

    async def _serve_group(self, tenant: str, pools: list[str], state: _Tier, group: list[ClaimRequest]) -> None:
        if len(group) == 1 and group[0].want == 1:
            # A lone claim for one lead (a quiet floor): one conditional write takes the best lead.
            request = group[0]
            now = datetime.now(UTC)
            query = {**claimable_query(tenant, pools, state.tier, now),
                     **not_dropped_by(request.agent.agent_id, state.policy.reclaim_cooldown_days, now)}
            lead = await self.store.take_best(query, claim_stages(tenant, self.source, state.tier.tier_id, {
                "$literal": self._claim_info(request, uuid.uuid4().hex)}, now))
            request.taken.extend([lead] if lead is not None else [])
            return
        for _ in range(MAX_ROUNDS):
            now = datetime.now(UTC)
            query = claimable_query(tenant, pools, state.tier, now)
            need = sum(r.want - len(r.taken) for r in group)
            limit = need + max(8, need // 2)  # room for leads some claimers dropped before
            candidates = await self.store.claim_candidates(query, limit)
            picks = self._split(candidates, group, state.policy, now)
            if not picks:
                return
            taken = await self._take(tenant, state.tier.tier_id, query, candidates, picks, now)
            for request in group:
                request.lost = 0
            got = {lead["_id"] for lead in taken}
            for lead_id, request in picks.items():
                if lead_id not in got:
                    request.lost += 1
            for lead in taken:
                picks[lead["_id"]].taken.append(lead)
            exhausted = len(candidates) < limit
            group = [r for r in group if len(r.taken) < r.want and (r.lost or not exhausted)]
            if not group:
                return
        log.info("claims left short after %d rounds: other replicas kept taking the leads first", MAX_ROUNDS)

    @staticmethod
    def _split(candidates: list[Doc], group: list[ClaimRequest], policy: AllocationPolicy, now: datetime
               ) -> dict[str, ClaimRequest]:
        """The best leads to the earliest claims, never a lead to an agent that dropped it."""
        picks: dict[str, ClaimRequest] = {}
        for request in group:
            short = request.want - len(request.taken)
            for lead in candidates:
                if short == 0:
                    break
                if lead["_id"] in picks or domain.dropped_recently(
                        lead.get("drops") or [], lead.get("dropped_by") or [], request.agent.agent_id,
                        policy.reclaim_cooldown_days, now):
                    continue
                picks[lead["_id"]] = request
                short -= 1
        return picks

    @staticmethod
    def _claim_info(request: ClaimRequest, claim_id: str) -> dict[str, Any]:
        agent = request.agent
        return {"agent_id": agent.agent_id, "team_id": agent.team_id, "grade": agent.grade,
                "event_id": str(uuid.uuid4()), "claim_id": claim_id}

    async def _take(self, tenant: str, tier_id: str, query: Doc, candidates: list[Doc],
                    picks: dict[str, ClaimRequest], now: datetime) -> list[Doc]:
        claim_id = uuid.uuid4().hex
        claims = {lead_id: self._claim_info(r, claim_id) for lead_id, r in picks.items()}
        by_id = {lead["_id"]: lead for lead in candidates if lead["_id"] in picks}
        drop_counts = {lead_id: lead.get("drop_count", 0) for lead_id, lead in by_id.items()}
        update = claim_pipeline(tenant, self.source, tier_id, claims, now)
        if await self.store.take_picked(query, drop_counts, update) == len(picks):
            # all taken (the usual case): the leads as read, with the fields the write just set
            return [as_claimed(by_id[lead_id], picks[lead_id].agent, claim_id, now) for lead_id in by_id]
        return await self.store.leads_of_claim(list(picks), claim_id)
