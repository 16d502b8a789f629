"""The HTTP number-privacy provider against a small provider served inside the test: the request it sends
(credentials from settings, the documented shape), the binding it answers, and every way the provider can
fail, each a clear problem to the dial's caller, never the customer's number in it."""

from __future__ import annotations

import pytest
from privacy_support import TOKEN, FakeProvider, dial, holding, privacy_harness, provider_server, use_provider

from allocator.privacy import HttpProvider, PrivacyError
from allocator.settings import AllocatorSettings
from allocator_support import Harness
from telesales_testkit.infra import free_port


async def phone_of(harness: Harness, lead_id: str) -> str:
    return str((await harness.lead(lead_id))["phone_e164"])


async def test_a_tenant_on_the_http_provider_dials_its_middle_number(allocator_settings: AllocatorSettings) -> None:
    provider = FakeProvider()
    async with provider_server(provider) as url, privacy_harness(allocator_settings, numbers=[], http_url=url) as harness:
        await use_provider(harness, "http", masked_only=True, seconds=240)
        [lead_id] = await holding(harness, "a1")
        phone = await phone_of(harness, lead_id)
        answer = await harness.http.post(f"/v1/leads/{lead_id}/dial", json={"agent_number": "+8601088886666"},
                                         headers=harness.as_actor("a1"))
        assert answer.status_code == 200, answer.text
        assert phone not in answer.text
        assert answer.json()["binding"] | {"expires_at": None} == {
            "middle_number": "+8617199990000", "binding_id": "b-1", "provider": "http", "expires_at": None}
        [sent] = provider.requests
        assert sent["body"] == {"customer_number": phone, "agent_number": "+8601088886666", "ttl_seconds": 240,
                                "reference": f"{harness.tenant}:{lead_id}:a1"}
        assert sent["headers"]["authorization"] == f"Bearer {TOKEN}"
        assert sent["headers"]["idempotency-key"] == f"{harness.tenant}:{lead_id}:a1"
        # a refused dial never reaches the provider
        await harness.agent("a2")
        assert (await dial(harness, lead_id, "a2")).json()["reason"] == "not_the_holder"
        assert len(provider.requests) == 1
        # the lead is closed: the sweep ends its binding at the provider
        closed = await harness.http.post(f"/v1/leads/{lead_id}/close", json={"agent_id": "a1", "reason": "no"},
                                         headers=harness.as_actor("a1"))
        assert closed.status_code == 200, closed.text
        assert await harness.leads.end_outlived_bindings() == 1
        assert provider.requests[-1] | {"headers": None} == {"method": "DELETE", "binding_id": "b-1", "headers": None}
        assert provider.requests[-1]["headers"]["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("mode, status, code", [
    ("exhausted", 503, "privacy_pool_exhausted"),
    ("broken", 502, "privacy_provider_unavailable"),
    ("unauthorised", 502, "privacy_provider_refused"),
    ("nonsense", 502, "privacy_provider_bad_answer"),
    ("expired", 502, "privacy_provider_bad_answer"),
    ("slow", 504, "privacy_provider_timeout"),
])
async def test_each_failure_of_the_provider_is_a_clear_problem(allocator_settings: AllocatorSettings, mode: str,
                                                                status: int, code: str) -> None:
    provider = FakeProvider(mode=mode)
    async with provider_server(provider) as url, privacy_harness(allocator_settings, numbers=[], http_url=url,
                                                                 timeout=0.5) as harness:
        await use_provider(harness, "http")
        [lead_id] = await holding(harness, "a1")
        phone = await phone_of(harness, lead_id)
        answer = await dial(harness, lead_id, "a1")
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == code
        assert phone not in answer.text and phone[3:] not in answer.text  # the provider's words, masked
        if mode == "exhausted":
            assert answer.headers["Retry-After"] == "37"


async def test_a_provider_that_does_not_answer_at_all(allocator_settings: AllocatorSettings) -> None:
    closed = f"http://127.0.0.1:{free_port()}/privacy"  # nothing listens there
    async with privacy_harness(allocator_settings, numbers=[], http_url=closed) as harness:
        await use_provider(harness, "http")
        [lead_id] = await holding(harness, "a1")
        answer = await dial(harness, lead_id, "a1")
        assert (answer.status_code, answer.json()["code"]) == (502, "privacy_provider_unavailable")


async def test_unbinding_over_http() -> None:
    provider = FakeProvider()
    async with provider_server(provider) as url:
        http = HttpProvider(base_url=url, token=TOKEN, timeout_seconds=2)
        try:
            binding = await http.bind(customer_number="+8613900000000", agent_number=None, ttl_seconds=60,
                                      reference="t:l:a")
            await http.unbind(binding.binding_id)
            assert binding.binding_id not in provider.bound
            await http.unbind(binding.binding_id)  # already ended: 404 is not an error
            await http.unbind("b/../../other")  # an id cannot leave the bindings path
            assert provider.requests[-1]["binding_id"] == "b/../../other"
            provider.mode = "broken"
            with pytest.raises(PrivacyError) as failed:
                await http.unbind("b-9")
            assert failed.value.code == "privacy_provider_unavailable"
        finally:
            await http.close()
