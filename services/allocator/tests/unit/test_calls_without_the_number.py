"""Calls without the number, decided without I/O: a binding only for an allowed dial, the policy's rules, a
masked-only tenant's lead views, the settings' middle numbers and how an HTTP provider's answers read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import ValidationError

from allocator.domain import AgentFacts, AllocationPolicy
from allocator.domain.dialing import DialVerdict, binding_outlived, binding_reference, dial_plan, shows_number
from allocator.domain.lead import HELD, Lead
from allocator.lead_views import lead_view, masked_copy
from allocator.privacy.http import failure_of
from allocator.privacy.provider import POOL_EXHAUSTED, REFUSED, UNAVAILABLE, PrivacyError, PrivacyProviders
from allocator.settings import AllocatorSettings

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PHONE = "+8613924681357"
HOLDER = AgentFacts(agent_id="a1", active=True, role="agent", grade="B", business_line="education", team_id="t1")
SUPERVISOR = replace(HOLDER, agent_id="boss", role="supervisor")
PLATFORM = AgentFacts(agent_id="svc", active=True, role="manager", grade="", business_line="*", team_id=None)


def held_lead(**fields: object) -> Lead:
    base = Lead(lead_id="l1", tenant_id="t", status=HELD, business_line="education", pool_id="education", score=70,
                lead_grade="B", holder="a1", holder_team="t1", holder_grade="B", held_since=NOW - timedelta(days=1),
                phone_e164=PHONE)
    return replace(base, **fields)  # type: ignore[arg-type]


def lead_doc() -> dict[str, object]:
    return {"_id": "l1", "phone_e164": PHONE, "name": "张伟", "business_line": "education", "score": 70,
            "lead_grade": "B", "pool_id": "education", "status": HELD, "holder": "a1", "held_since": NOW}


# ---- a binding only for an allowed dial -------------------------------------------------------------------


@pytest.mark.parametrize("lead, agent", [
    (held_lead(), "a2"),  # not the holder
    (held_lead(status="pooled", holder=None), "a1"),  # nobody holds it
    (held_lead(rest_until=NOW + timedelta(days=1)), "a1"),  # contact pressure
    (held_lead(status="closed", holder=None), "a1"),
])
def test_a_refused_dial_binds_nothing_whatever_the_provider(lead: Lead, agent: str) -> None:
    verdict = lead.may_dial(agent, now=NOW, number_listed=False)
    for provider in ("none", "simulated", "http"):
        plan, answered = dial_plan(verdict, provider=provider, has_number=True)  # type: ignore[arg-type]
        assert (plan, answered) == ("refused", verdict)


def test_a_listed_number_binds_nothing_even_for_its_holder() -> None:
    verdict = held_lead().may_dial("a1", now=NOW, number_listed=True)
    assert dial_plan(verdict, provider="simulated", has_number=True) == ("refused", verdict)
    assert verdict.reason == "do_not_call"


def test_an_allowed_dial_binds_through_the_tenants_provider_or_dials_direct_without_one() -> None:
    verdict = held_lead().may_dial("a1", now=NOW, number_listed=False)
    assert dial_plan(verdict, provider="none", has_number=True) == ("direct", verdict)
    assert dial_plan(verdict, provider="simulated", has_number=True) == ("bind", verdict)
    assert dial_plan(verdict, provider="http", has_number=True) == ("bind", verdict)


def test_a_lead_without_a_number_has_nothing_to_bind() -> None:
    plan, verdict = dial_plan(DialVerdict(True), provider="simulated", has_number=False)
    assert (plan, verdict.allowed, verdict.reason) == ("refused", False, "no_number")


def test_a_binding_is_named_by_tenant_lead_and_agent() -> None:
    assert binding_reference(tenant="t", lead_id="l1", agent_id="a1") != binding_reference(
        tenant="t", lead_id="l1", agent_id="a2")
    assert binding_reference(tenant="t", lead_id="l1", agent_id="a1") != binding_reference(
        tenant="u", lead_id="l1", agent_id="a1")


def test_a_binding_outlives_its_hold_once_the_lead_leaves_the_agent() -> None:
    assert not binding_outlived(status=HELD, holder="a1", agent_id="a1")
    assert binding_outlived(status=HELD, holder="a2", agent_id="a1")  # pushed to another agent
    for status in ("pooled", "closed", "won", "do_not_call"):
        assert binding_outlived(status=status, holder=None, agent_id="a1")


# ---- the policy -------------------------------------------------------------------------------------------


def test_masked_dialing_only_needs_a_provider() -> None:
    with pytest.raises(ValidationError, match="masked_dialing_only needs a number_privacy provider"):
        AllocationPolicy(masked_dialing_only=True)
    assert AllocationPolicy(masked_dialing_only=True, number_privacy="simulated").masked_dialing_only
    with pytest.raises(ValidationError):
        AllocationPolicy(number_privacy="carrier-x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        AllocationPolicy(privacy_binding_seconds=5)
    assert AllocationPolicy().number_privacy == "none"  # no tenant changes unasked


def test_only_who_may_see_it_and_never_in_a_masked_only_tenant() -> None:
    assert shows_number(may_see=True, masked_dialing_only=False)
    assert not shows_number(may_see=False, masked_dialing_only=False)
    assert not shows_number(may_see=True, masked_dialing_only=True)


@pytest.mark.parametrize("viewer", [HOLDER, SUPERVISOR, PLATFORM])
def test_a_masked_only_tenants_lead_view_never_has_the_number(viewer: AgentFacts) -> None:
    masked_only = AllocationPolicy(number_privacy="simulated", masked_dialing_only=True)
    view = lead_view(lead_doc(), viewer, masked_only)
    assert PHONE not in view.model_dump_json()
    assert (view.phone, view.phone_masked, view.masked_reason) == ("+86139****1357", True, "masked_dialing_only")
    assert view.name == "张伟"  # the name is still theirs to see (and counted as a full disclosure)
    assert view.contact_full
    # past the unmasking budget it stays masked, and the name is masked too
    later = masked_copy(view, "unmask_budget_exceeded")
    assert (later.phone, later.name, later.masked_reason) == ("+86139****1357", "张**", "unmask_budget_exceeded")
    # the same tenant with a provider but not masked-only: the holder sees the number
    shown = lead_view(lead_doc(), viewer, AllocationPolicy(number_privacy="simulated"))
    assert (shown.phone, shown.masked_reason) == (PHONE, None)


def test_others_see_it_masked_without_a_masked_only_reason() -> None:
    other = replace(HOLDER, agent_id="a2")
    view = lead_view(lead_doc(), other, AllocationPolicy(number_privacy="simulated", masked_dialing_only=True))
    assert (view.phone_masked, view.masked_reason, view.contact_full) == (True, None, False)


# ---- settings and the HTTP provider's answers -------------------------------------------------------------


def test_the_simulated_middle_numbers_are_e164_and_distinct() -> None:
    settings = AllocatorSettings(privacy_simulated_numbers=" +8617100000001, +8617100000002 ")
    assert settings.simulated_numbers() == ("+8617100000001", "+8617100000002")
    assert AllocatorSettings().simulated_numbers() == ()
    for wrong in ("17100000001", "+86171,+86171000000020000000", "+8617100000001,+8617100000001"):
        with pytest.raises(ValidationError):
            AllocatorSettings(privacy_simulated_numbers=wrong)


def test_a_provider_not_configured_is_a_clear_error() -> None:
    with pytest.raises(PrivacyError) as refused:
        PrivacyProviders({}).get("http")
    assert refused.value.code == "privacy_provider_not_configured"


def test_http_answers_read_as_the_failure_they_mean() -> None:
    exhausted = failure_of(httpx.Response(409, json={"code": "pool_exhausted"}, headers={"Retry-After": "42"}))
    assert (exhausted.code, exhausted.retry_after) == (POOL_EXHAUSTED, 42)
    refused = failure_of(httpx.Response(400, json={"message": "bad number +8613924681357"}))
    assert refused.code == REFUSED and PHONE not in refused.message and "139****1357" in refused.message
    assert failure_of(httpx.Response(409, json={"code": "duplicate"})).code == REFUSED
    assert failure_of(httpx.Response(503, text="<html>down</html>")).code == UNAVAILABLE
