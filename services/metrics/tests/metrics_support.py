"""Helpers of the metrics tests (importable: the tests folder is on pytest's pythonpath): events of every
kind the floor publishes, valid per their contracts, and a harness that hands them to the service as its
consumer does (MetricsStream), without a broker."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from metrics.events import READINGS, MetricsStream
from metrics.exposition import Exposition
from metrics.service import MetricsService
from metrics.store import MetricsStore
from telesales_contracts import BY_NAME, CLOUDEVENTS_CONTENT_TYPE
from telesales_runtime.consumer import Delivery
from telesales_testkit.harness import ServiceHarness, cloudevent
from telesales_testkit.kafka import ConsumedRecord

DAY = "2026-11-24"
T0 = datetime.fromisoformat(f"{DAY}T09:00:00+08:00")

Event = tuple[str, dict[str, Any]]
READING_OF = {reading.name: reading for reading in READINGS}


def at(minutes: float = 0, base: datetime = T0) -> str:
    """An ISO time `minutes` after 09:00 of the scenario's day (Asia/Shanghai)."""
    return (base + timedelta(minutes=minutes)).isoformat()


def touch(when: str, channel: str = "search_ads_seo") -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "source": "/tests", "channel": channel, "channel_raw": None,
            "received_at": when}


def qualified(lead: str, when: str, *, business_line: str = "education", channel: str = "search_ads_seo") -> Event:
    return "leads.qualified.v1", {
        "lead_id": lead, "phone_e164": "+8613900000000", "email": None, "name": None, "company": None,
        "channel": channel, "channel_raw": None, "business_line": business_line, "product_interest": None,
        "region": None, "carrier": None, "number_type": None, "number_check": None, "score": 60, "grade": "B",
        "score_breakdown": [], "touch": touch(when, channel)}


def rejected(when: str, *, business_line: str = "education", channel: str = "search_ads_seo") -> Event:
    return "leads.rejected.v1", {"reasons": [{"code": "test_number", "message": "a test number"}],
                                 "phone_raw": "123", "phone_e164": None, "email": None, "channel": channel,
                                 "business_line": business_line, "touch": touch(when, channel)}


def holder(change: str, lead: str, agent: str, when: str, *, team: str | None = "mba",
           business_line: str = "education", **more: Any) -> Event:
    """allocation.<change>.v1: assigned, claimed, returned, reclaimed, closed or won (`more` overrides fields)."""
    data = {"lead_id": lead, "agent_id": agent, "team_id": team, "agent_grade": "B", "business_line": business_line,
            "pool_id": business_line, "score": 60, "lead_grade": "B", "at": when}
    extra = {"assigned": {"strategy": "round_robin", "assigned_by": "system"}, "claimed": {"tier_id": "fresh"},
             "returned": {"reason": "not interested", "drop_count": 1},
             "reclaimed": {"kind": "not_processed", "stage_percent": 0, "deadline": when, "drop_count": 1},
             "closed": {"reason": "no budget"}, "won": {"amount_fen": 1_000_000}}[change]
    return f"allocation.{change}.v1", {**data, **extra, **more}


def win_confirmed(lead: str, agent: str, when: str, *, amount_fen: int = 1_000_000, team: str | None = "mba",
                  by: str = "order") -> Event:
    """allocation.win-confirmed.v1: the agent's win confirmed (by an order, or by `by`="supervisor")."""
    return "allocation.win-confirmed.v1", {
        "lead_id": lead, "agent_id": agent, "team_id": team, "business_line": "education", "amount_fen": amount_fen,
        "declared_amount_fen": amount_fen, "confirmed_by": by, "confirmer": "crm" if by == "order" else "sup",
        "order_ref": "SO-1" if by == "order" else None, "won_at": when, "confirmed_at": when}


def call(lead: str, agent: str, when: str, seconds: int, *, connected: bool = True) -> Event:
    return "calls.logged.v1", {"agent_id": agent, "lead_id": lead, "started_at": when,
                               "duration_seconds": seconds, "connected": connected}


def stage(lead: str, step: str | None, *, agent: str | None = None, percent: int = 20) -> Event:
    return "leads.stage-changed.v1", {"lead_id": lead, "stage_percent": percent, "funnel_step": step,
                                      "agent_id": agent}


def agent(agent_id: str, team: str | None = "mba", business_line: str = "education") -> Event:
    return "agents.changed.v1", {"agent_id": agent_id, "name": agent_id, "team_id": team,
                                 "business_line": business_line}


TIP = {"version": 1, "author_id": "top-1", "title": "客户嫌贵怎么办", "stage": "objection_handling",
       "product_line": "car-insurance", "tags": [], "price": 30}


def tip_reviewed(tip: str, when: str, decision: str = "approved") -> Event:
    return "marketplace.tip-reviewed.v1", {**TIP, "tip_id": tip, "reviewer_id": "rev-1", "decision": decision,
                                           "failed_checks": [] if decision == "approved" else ["accurate"],
                                           "reviewed_at": when}


def visited(user: str, tip: str, when: str) -> Event:
    return "marketplace.tip-visited.v1", {"user_id": user, "tip_id": tip, "visited_at": when}


def bought(user: str, tip: str, when: str, price: int = 30) -> Event:
    return "marketplace.purchase-completed.v1", {
        "purchase_id": f"{user}:{tip}", "transfer_id": f"tx-{user}-{tip}", "attempt": 1, "buyer_id": user,
        "seller_id": "top-1", "tip_id": tip, "version": 1, "price": price, "seller_amount": price,
        "completed_at": when}


def learned(user: str, tip: str, when: str, *, done: bool = True, rewatch: bool = False) -> Event:
    return "marketplace.learn-progressed.v1", {
        "user_id": user, "tip_id": tip, "session_id": uuid.uuid4().hex, "progress_percent": 100 if done else 40,
        "watched_seconds": 300, "learned": done, "rewatch": rewatch, "rewatches": int(rewatch), "at": when}


def rated(user: str, tip: str, when: str, stars: int = 5) -> Event:
    return "marketplace.tip-rated.v1", {"user_id": user, "tip_id": tip, "version": 1, "author_id": "top-1",
                                        "stars": stars, "rated_at": when}


def forwarded(user: str, tip: str, when: str, to: str = "colleague") -> Event:
    return "marketplace.tip-forwarded.v1", {"from_user_id": user, "to_user_id": to, "tip_id": tip,
                                            "forwarded_at": when}


def daily_active(user: str, when: str) -> Event:
    return "marketplace.daily-active.v1", {"user_id": user, "day": when[:10], "first_activity": "visit", "at": when}


def deep_learner(user: str, when: str) -> Event:
    return "marketplace.deep-learner-flagged.v1", {"user_id": user, "tips_learned": 7, "watched_seconds": 1500,
                                                   "min_tips": 7, "min_seconds": 1200, "flagged_at": when}


def allocated(user: str, when: str, amount: int = 100) -> Event:
    return "ledger.coins-allocated.v1", {"allocation_id": "alloc-1", "transfer_id": f"alloc-1/{user}",
                                         "user_id": user, "amount": amount, "selection": "users",
                                         "allocated_by": "ops", "allocated_at": when}


def reclaimed(user: str, when: str, amount: int = 100) -> Event:
    return "ledger.coins-reclaimed.v1", {"transfer_id": f"reclaim/{user}/{when}", "user_id": user, "amount": amount,
                                         "last_activity_at": when, "idle_days": 30, "reclaimed_at": when}


def posted(buyer: str, when: str, balance: int, price: int = 30) -> Event:
    return "ledger.transfer-posted.v1", {"transfer_id": f"tx-{uuid.uuid4().hex[:8]}", "buyer_id": buyer,
                                         "seller_id": "top-1", "tip_id": "tip-1", "price": price,
                                         "request_event_id": uuid.uuid4().hex, "seller_amount": price,
                                         "platform_amount": 0, "buyer_balance": balance, "day": when[:10],
                                         "posted_at": when}


@dataclass(kw_only=True)
class Harness(ServiceHarness):
    metrics: MetricsService
    stream: MetricsStream
    store: MetricsStore
    exposition: Exposition
    application: FastAPI
    offsets: Counter[str] = field(default_factory=Counter)
    event_time: ClassVar[str] = f"{DAY}T10:00:00+08:00"

    async def send(self, topic: str, data: dict[str, Any], *, event_id: str | None = None, time: str | None = None,
                   key: bytes | None = None, tenant: str | None = None, event_type: str | None = None) -> str:
        """An event as another system publishes it, consumed at once; its id."""
        event_id = event_id or str(uuid.uuid4())
        await self.deliver(topic, cloudevent(topic, tenant or self.tenant, data, event_id=event_id,
                                             time=time or self.event_time, event_type=event_type), key=key)
        return event_id

    async def deliver(self, topic: str, value: bytes, *, key: bytes | None = None,
                      headers: tuple[tuple[str, bytes], ...] = (("content-type", CLOUDEVENTS_CONTENT_TYPE.encode()),),
                      ) -> None:
        """A record as the sole consumer hands it over (partition 0, the topic's next offset), processed and
        checkpointed at once: the consumer's path without a broker."""
        offset = self.offsets[topic]
        self.offsets[topic] += 1
        record = ConsumedRecord(topic, value, 0, offset, key, headers)
        await self.stream.process([record])
        await self.stream.checkpoint({(t, 0): n for t, n in self.offsets.items()}, final=True)

    async def emit(self, *events: Event, time: str | None = None) -> list[str]:
        """Publish events (each on its topic, with a new id); their ids."""
        return [await self.send(topic, data, time=time) for topic, data in events]

    def delivery(self, event: Event, *, event_id: str | None = None, time: str | None = None) -> Delivery:
        """An event as the consumer hands it to the service (for batches built by hand): parsed by what the
        counting rules read of it, as the consumer parses it."""
        topic, data = event
        raw = cloudevent(topic, self.tenant, data, event_id=event_id or str(uuid.uuid4()), time=time or self.event_time)
        BY_NAME[topic].parse(raw)  # the test's event is valid per its whole contract
        return Delivery(READING_OF[topic].parse(raw), ConsumedRecord(topic, raw))

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def funnel(self, **params: Any) -> dict[str, dict[str, int]]:
        """The lead funnel of the scenario's day: {group: {step: count}} (group "" when not grouped)."""
        body = await self.get("/v1/funnels/leads", **{"from": DAY, "to": DAY, **params})
        return {"/".join(row["group"].values()): {s["step"]: s["count"] for s in row["steps"]} for row in body["rows"]}

    async def scrape(self) -> dict[str, float]:
        """/metrics after a refresh, as {sample name{labels of this tenant}: value}, as the replica holding the
        counting lease serves it (the others leave the floor's figures out)."""
        assert await self.application.state.consumer.lease.hold()
        await self.exposition.refresh()
        response = await self.http.get("/metrics")
        assert response.status_code == 200
        out = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.labels.get("tenant") == self.tenant:
                    labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()) if k != "tenant")
                    out[f"{sample.name}{{{labels}}}"] = sample.value
        return out
