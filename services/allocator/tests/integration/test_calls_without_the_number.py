"""Calls without the number on the real MongoDB and Redis (in-memory broker), tried the ways an agent, a
supervisor or a dialer could get at a number: a binding only for the lead's holder when the rules allow the
dial, never the number in a masked-only tenant's answers, a clear refusal when the middle numbers run out,
bindings that expire, and an HTTP provider that fails every way it can."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from privacy_support import dial, holding, middle_numbers, privacy_harness, use_provider

from allocator.settings import AllocatorSettings
from allocator_support import Harness, floor


async def phone_of(harness: Harness, lead_id: str) -> str:
    return str((await harness.lead(lead_id))["phone_e164"])


def bindings(harness: Harness) -> Any:
    return harness.app.state.simulated_numbers  # type: ignore[attr-defined]


async def test_an_allowed_dial_answers_a_middle_number_that_reaches_the_customer(
        allocator_settings: AllocatorSettings) -> None:
    pool = middle_numbers(3)
    async with privacy_harness(allocator_settings, numbers=pool) as harness:
        await use_provider(harness, "simulated", seconds=120)
        [lead_id] = await holding(harness, "a1")
        phone = await phone_of(harness, lead_id)
        before = datetime.now(UTC)
        answer = await dial(harness, lead_id, "a1")
        assert answer.status_code == 200, answer.text
        assert phone not in answer.text and phone[3:] not in answer.text
        body = answer.json()
        assert body["allowed"] is True and body["binding"]["provider"] == "simulated"
        middle = body["binding"]["middle_number"]
        assert middle in pool
        expires = datetime.fromisoformat(body["binding"]["expires_at"])
        assert before + timedelta(seconds=119) <= expires <= datetime.now(UTC) + timedelta(seconds=121)
        routed = await bindings(harness).live_binding(middle, datetime.now(UTC))
        assert routed["customer_number"] == phone  # the simulated exchange connects the middle number to B
        # Dialling again while it lives: the same middle number, its expiry renewed (not a second number).
        again = (await dial(harness, lead_id, "a1")).json()["binding"]
        assert again["middle_number"] == middle and again["binding_id"] == body["binding"]["binding_id"]
        assert datetime.fromisoformat(again["expires_at"]) >= expires
        # A dialer names the extension the agent calls from: bound too (AXB).
        dialer = await harness.http.post(f"/v1/leads/{lead_id}/dial", json={"agent_id": "a1", "agent_number": "8001"},
                                         headers=harness.as_("service", "dialer-1"))
        assert dialer.status_code == 200 and dialer.json()["binding"]["middle_number"] == middle
        # Asking only whether one may (as the console does when it logs a call) binds nothing.
        [other] = await holding(harness, "a1")
        checked = await dial(harness, other, "a1", check_only=True)
        assert checked.json()["allowed"] is True and checked.json()["binding"] is None
        assert len(await bindings(harness).live_numbers(pool, datetime.now(UTC))) == 1


async def test_no_binding_for_a_lead_the_agent_may_not_dial(allocator_settings: AllocatorSettings) -> None:
    pool = middle_numbers(4)
    async with privacy_harness(allocator_settings, numbers=pool) as harness:
        await floor(harness, "a1", "a2")
        await use_provider(harness, "simulated")
        [held] = await holding(harness, "a1")
        # another agent of the same team, for itself, or asked for by its supervisor
        refused = await dial(harness, held, "a2")
        assert (refused.status_code, refused.json()["reason"], refused.json()["binding"]) == (
            200, "not_the_holder", None)
        for_a2 = await harness.http.post(f"/v1/leads/{held}/dial", json={"agent_id": "a2"},
                                         headers=harness.as_actor("boss"))
        assert for_a2.json()["reason"] == "not_the_holder" and for_a2.json()["binding"] is None
        # the supervisor asking for the holder learns it may dial, and gets no number to dial itself
        for_a1 = await harness.http.post(f"/v1/leads/{held}/dial", json={"agent_id": "a1"},
                                         headers=harness.as_actor("boss"))
        assert (for_a1.json()["allowed"], for_a1.json()["binding"]) == (True, None)
        # an agent asking for the holder: not theirs to ask
        assert (await dial(harness, held, "a2", agent_id="a1")).status_code == 403
        # a pooled lead, and a lead given back
        [pooled] = await harness.pooled()
        assert (await dial(harness, pooled, "a1")).json()["reason"] == "not_held"
        returned = await harness.http.post(f"/v1/leads/{held}/return", json={"agent_id": "a1", "reason": "wrong"},
                                           headers=harness.as_actor("a1"))
        assert returned.status_code == 200, returned.text
        assert (await dial(harness, held, "a1")).json()["binding"] is None
        # the holder, once the number is on the do-not-call list
        [listed] = await holding(harness, "a2")
        number = await phone_of(harness, listed)
        bidx = harness.store.sealing.phone_index(harness.tenant, number)
        await harness.send("leads.do-not-call.v1", {"phone_bidx": bidx, "phone_masked": "+86139****0000",
                                                    "listed": True, "source": "operator", "reason": "stop",
                                                    "changed_at": datetime.now(UTC).isoformat()},
                           key=f"{harness.tenant}/{bidx}".encode())
        assert (await dial(harness, listed, "a2")).json()["reason"] == "do_not_call"
        assert await bindings(harness).live_numbers(pool, datetime.now(UTC)) == {}


async def test_a_masked_only_tenant_never_shows_its_numbers(allocator_settings: AllocatorSettings) -> None:
    pool = middle_numbers(2)
    async with privacy_harness(allocator_settings, numbers=pool) as harness:
        await floor(harness, "a1")
        await use_provider(harness, "simulated", masked_only=True)
        await harness.agent("a1")
        [lead_id] = await harness.pooled()
        phone = await phone_of(harness, lead_id)
        claimed = await harness.claim("a1")
        answers = {"claim": claimed}
        readers = {"holder": harness.as_actor("a1"), "supervisor": harness.as_actor("boss"),
                   "admin": harness.as_("admin", "root")}
        for who, headers in readers.items():
            answers[f"{who} lead"] = await harness.http.get(f"/v1/leads/{lead_id}", headers=headers)
            answers[f"{who} list"] = await harness.http.get("/v1/agents/a1/leads", headers=headers)
        answers["dial"] = await dial(harness, lead_id, "a1")
        answers["dialer"] = await harness.http.post(f"/v1/leads/{lead_id}/dial", json={"agent_id": "a1"},
                                                    headers=harness.as_("service", "dialer-1"))
        answers["service lead"] = await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_("service", "d"))
        answers["history"] = await harness.http.get(f"/v1/leads/{lead_id}/history", headers=readers["holder"])
        answers["pool"] = await harness.http.get("/v1/pools/education/leads", headers=readers["supervisor"])
        for what, answer in answers.items():
            assert phone not in answer.text and phone[3:] not in answer.text, what
        assert answers["service lead"].status_code == 403  # a dialer reads no lead; it dials through bindings
        for what in ("holder lead", "supervisor lead", "admin lead"):
            view = answers[what].json()
            assert (view["phone_masked"], view["masked_reason"]) == (True, "masked_dialing_only"), what
            assert view["phone"] == phone[:6] + "****" + phone[-4:]
        assert claimed.json()["leads"][0]["masked_reason"] == "masked_dialing_only"
        # calls go through a binding, which reaches the customer
        middle = answers["dial"].json()["binding"]["middle_number"]
        assert (await bindings(harness).live_binding(middle, datetime.now(UTC)))["customer_number"] == phone
        # a tenant cannot be masked-only without a provider, nor name one this deployment lacks
        for policy in ({"masked_dialing_only": True}, {"number_privacy": "http"}):
            wrong = await harness.http.put("/v1/config/policy", json=policy)
            assert wrong.status_code == 422, wrong.text
        assert (await harness.http.put("/v1/config/policy", json={"number_privacy": "http"})).json()["code"] == (
            "privacy_provider_not_configured")


async def test_when_the_middle_numbers_run_out_the_dial_is_refused_clearly(
        allocator_settings: AllocatorSettings) -> None:
    pool = middle_numbers(2)
    async with privacy_harness(allocator_settings, numbers=pool) as harness:
        await use_provider(harness, "simulated", seconds=90)
        leads = {agent: (await holding(harness, agent))[0] for agent in ("a1", "a2", "a3")}
        first = {agent: (await dial(harness, leads[agent], agent)).json()["binding"]["middle_number"]
                 for agent in ("a1", "a2")}
        assert sorted(first.values()) == sorted(pool)
        out = await dial(harness, leads["a3"], "a3")
        assert out.status_code == 503, out.text
        assert out.headers["content-type"].startswith("application/problem+json")
        assert out.json()["code"] == "privacy_pool_exhausted" and "2 middle numbers are bound" in out.json()["detail"]
        assert 1 <= int(out.headers["Retry-After"]) <= 90
        # whoever has a binding keeps it
        assert (await dial(harness, leads["a1"], "a1")).json()["binding"]["middle_number"] == first["a1"]
        # a refused dial is still the refusal, not the pool's problem
        assert (await dial(harness, leads["a1"], "a3")).json()["reason"] == "not_the_holder"


async def test_a_binding_expires_and_its_number_serves_the_next_call(allocator_settings: AllocatorSettings) -> None:
    [number] = middle_numbers(1)
    async with privacy_harness(allocator_settings, numbers=[number]) as harness:
        await use_provider(harness, "simulated", seconds=60)
        first, second = (await holding(harness, "a1"))[0], (await holding(harness, "a2"))[0]
        bound = (await dial(harness, first, "a1")).json()["binding"]
        assert (await dial(harness, second, "a2")).status_code == 503
        # time passes: the binding's expiry is behind us (MongoDB's TTL monitor removes it within a minute)
        store = bindings(harness)
        await store.bindings.update_one({"_id": bound["binding_id"]},
                                        {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}})
        assert await store.live_binding(number, datetime.now(UTC)) is None  # the call no longer goes through
        taken = (await dial(harness, second, "a2")).json()["binding"]
        assert taken["middle_number"] == number and taken["binding_id"] != bound["binding_id"]
        routed = await store.live_binding(number, datetime.now(UTC))
        assert routed["customer_number"] == await phone_of(harness, second)
        # the expired binding is gone, and a fresh dial of the first lead waits for the number again
        assert await store.bindings.count_documents({"_id": bound["binding_id"]}) == 0
        assert (await dial(harness, first, "a1")).status_code == 503
        indexes = {i["name"]: i async for i in await store.bindings.list_indexes()}
        assert indexes["expire_bindings"]["expireAfterSeconds"] == 0
        # unbinding ends it at once
        await harness.app.state.leads.privacy.get("simulated").unbind(taken["binding_id"])  # type: ignore[attr-defined]
        assert await store.live_binding(number, datetime.now(UTC)) is None


async def test_a_binding_ends_once_its_lead_leaves_the_agent(allocator_settings: AllocatorSettings) -> None:
    pool = middle_numbers(3)
    async with privacy_harness(allocator_settings, numbers=pool) as harness:
        await use_provider(harness, "simulated")
        kept, given_back = await holding(harness, "a1", 2)
        numbers = {lead: (await dial(harness, lead, "a1")).json()["binding"]["middle_number"]
                   for lead in (kept, given_back)}
        returned = await harness.http.post(f"/v1/leads/{given_back}/return", json={"agent_id": "a1", "reason": "x"},
                                           headers=harness.as_actor("a1"))
        assert returned.status_code == 200, returned.text
        store = bindings(harness)
        # until the sweep's round the middle number still connects (it would for at most the binding's time)
        assert await store.live_binding(numbers[given_back], datetime.now(UTC)) is not None
        assert await harness.leads.end_outlived_bindings() == 1
        assert await store.live_binding(numbers[given_back], datetime.now(UTC)) is None
        assert await store.live_binding(numbers[kept], datetime.now(UTC)) is not None  # still held: kept
        assert await harness.leads.end_outlived_bindings() == 0  # nothing more to end


async def test_concurrent_dials_never_share_a_middle_number(allocator_settings: AllocatorSettings) -> None:
    pool = middle_numbers(4)
    async with privacy_harness(allocator_settings, numbers=pool) as harness:
        await use_provider(harness, "simulated")
        agents = [f"a{i}" for i in range(6)]
        leads = {agent: (await holding(harness, agent))[0] for agent in agents}
        answers = await asyncio.gather(*(dial(harness, leads[agent], agent) for agent in agents))
        bound = [a.json()["binding"]["middle_number"] for a in answers if a.status_code == 200]
        assert sorted(bound) == sorted(pool)  # each number once, all of them used
        assert sorted(a.status_code for a in answers) == [200] * 4 + [503] * 2
        # a double click: one binding, not two middle numbers
        lucky = next(agent for agent, a in zip(agents, answers, strict=True) if a.status_code == 200)
        again = await asyncio.gather(*(dial(harness, leads[lucky], lucky) for _ in range(5)))
        assert len({a.json()["binding"]["binding_id"] for a in again}) == 1
        live = await bindings(harness).live_numbers(pool, datetime.now(UTC))
        assert len(live) == 4
