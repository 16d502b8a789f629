"""What every part of the lead service shares: its collaborators, the tenant's configuration (cached),
the roster records it reads, and how a decision's events are written with its change."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from telesales_runtime.cache import TtlCache
from telesales_runtime.deadletter import DeadLetterPublisher

from .. import domain
from ..batching import Batcher
from ..claims import ClaimDispenser
from ..domain import AgentFacts, AllocationPolicy, DomainError, RoutingRule, Tier
from ..domain.changes import Announcement
from ..guards import ClaimGuard
from ..settings import AllocatorSettings
from ..store import AllocatorStore, Doc
from ..store.embedded_outbox import embedded_event
from ..store.roster import agent_of


def agent_facts(doc: Doc, policy: AllocationPolicy) -> AgentFacts:
    """A roster record as the rules see the agent (a new agent has the policy's new-agent grade)."""
    return agent_of(doc).facts(policy)


class LeadServiceCore:
    def __init__(self, settings: AllocatorSettings, store: AllocatorStore, guard: ClaimGuard,
                 dead_letters: DeadLetterPublisher, notify_leads: Callable[[], None],
                 notify_outbox: Callable[[], None]) -> None:
        self.settings = settings
        self.store = store
        self.guard = guard
        self.dead_letters = dead_letters
        self.notify_leads = notify_leads
        self.notify_outbox = notify_outbox
        self.tz = settings.tz
        self._config = TtlCache(settings.config_cache_seconds)
        self._loading: dict[tuple[str, str], asyncio.Future[Any]] = {}
        self._agents = TtlCache(settings.agent_cache_seconds)
        self.claims = ClaimDispenser(store, settings.source)
        # claims arriving together read their agents and holding counts in one round trip (per tenant)
        self.claimers: Batcher[str, str, tuple[Doc | None, int]] = Batcher(self._claimers)

    async def _claimers(self, tenant: str, agent_ids: list[str]) -> list[tuple[Doc | None, int]]:
        found = await self.store.agents_and_held_counts(tenant, agent_ids)
        return [found[agent_id] for agent_id in agent_ids]

    # ---- configuration (cached) ----------------------------------------------------------------------

    async def policy(self, tenant: str) -> AllocationPolicy:
        return await self._cached(("policy", tenant), lambda: self.store.policy(tenant))

    async def tiers(self, tenant: str) -> list[Tier]:
        return await self._cached(("tiers", tenant), lambda: self.store.tiers(tenant))

    async def routing(self, tenant: str) -> list[RoutingRule]:
        return await self._cached(("routing", tenant), lambda: self.store.routing(tenant))

    async def _cached(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        value = self._config.get(key)
        if value is None:
            # One load per key at a time: when the entry expires under a busy floor, the claims of that
            # moment share one read instead of each sending its own.
            loading = self._loading.get(key)
            if loading is None:
                loading = self._loading[key] = asyncio.ensure_future(load())
                loading.add_done_callback(lambda _: self._loading.pop(key, None))
            value, _version = await asyncio.shield(loading)
            self._config.put(key, value)
        return value

    async def put_config(self, *, tenant: str, kind: str, value: Any, expected_version: int | None) -> int | None:
        """Store a configuration (only if still at `expected_version`, when given); its new version, or None."""
        version = await self.store.put_config(tenant, kind, value, expected_version, datetime.now(UTC))
        if version is not None:
            self.forget_config(tenant)
        return version

    def forget_config(self, tenant: str) -> None:
        for kind in ("policy", "tiers", "routing"):
            self._config.drop((kind, tenant))

    async def tier(self, tenant: str, tier_id: str) -> Tier:
        for tier in await self.tiers(tenant):
            if tier.tier_id == tier_id:
                return tier
        raise DomainError("unknown_tier", f"there is no tier {tier_id!r}")

    async def pools_of_line(self, tenant: str, business_line: str) -> list[str]:
        """The public pools of a business line: its own, and every pool a routing rule for it names."""
        pools = {domain.default_pool_id(business_line)}
        pools.update(r.pool_id for r in await self.routing(tenant) if r.business_line in (None, business_line))
        return sorted(pools)

    # ---- the roster as the lead service reads it --------------------------------------------------------

    async def agent_doc(self, tenant: str, agent_id: str, *, fresh: bool = False) -> Doc:
        key = (tenant, agent_id)
        doc = None if fresh else self._agents.get(key)
        if doc is None:
            doc = await self.store.get_agent(tenant, agent_id)
            if doc is None:
                raise DomainError("unknown_agent", f"there is no agent {agent_id!r}")
            self._agents.put(key, doc)
        return doc

    def worked_minutes_today(self, agent: Doc, now: datetime) -> float:
        return agent_of(agent).worked_minutes_today(now, self.tz)

    # ---- events ------------------------------------------------------------------------------------------

    def embedded(self, tenant: str, lead_id: str, announcements: Sequence[Announcement]) -> list[Doc]:
        """A decision's events as entries of the lead's embedded outbox (the relay publishes them)."""
        out = []
        for announcement in announcements:
            topic = announcement.topic
            attributes = {"id": announcement.event_id} if announcement.event_id else {}
            event = topic.event(announcement.data, source=self.settings.source, tenantid=tenant, subject=lead_id,
                                **attributes)
            out.append(embedded_event(event.id, topic.name, event.to_json_bytes(), lead_id))
        return out
