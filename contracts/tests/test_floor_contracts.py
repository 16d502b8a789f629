"""Tests of the roster, activity and allocation contracts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from telesales_contracts.activity import (
    CallLogged,
    FunnelStep,
    LeadComplaint,
    LeadSignal,
    LeadStageChanged,
    stage_layer,
)
from telesales_contracts.allocation import LeadWon
from telesales_contracts.roster import AgentChanged, AgentStatusChanged
from telesales_contracts.topics import ALLOCATION_WON, CALLS_LOGGED, HOLDER_CHANGE_TOPICS

NOW = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(("stage", "layer"), [
    (0, "verified_contact"), (19, "verified_contact"), (20, "need_found"), (59, "plan_and_payment_date"),
    (60, "contract_and_deposit"), (80, "paid_in_full"), (100, "paid_in_full"),
])
def test_stage_layers(stage: int, layer: str) -> None:
    assert stage_layer(stage) == layer


def test_funnel_steps_are_ordered() -> None:
    assert [s.value for s in FunnelStep] == ["valid", "intent", "agreed_visit", "actual_visit", "plan", "paid"]


def test_stage_is_a_percentage() -> None:
    with pytest.raises(ValidationError):
        LeadStageChanged(lead_id="l1", stage_percent=101)
    assert LeadStageChanged(lead_id="l1", stage_percent=100).deal_in_progress is None


def test_status_time_needs_an_offset() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        AgentStatusChanged.model_validate({"agent_id": "a1", "status": "logged_in", "at": "2026-11-24T09:00:00"})


def test_agent_ids_are_plain_identifiers() -> None:
    with pytest.raises(ValidationError):
        AgentChanged(agent_id="a 1", name="张三")


@pytest.mark.parametrize(("model", "data"), [
    (AgentChanged, {"agent_id": "a1", "name": "张三", "grade": "A", "hr_department": "销售一部"}),
    (AgentStatusChanged, {"agent_id": "a1", "status": "on_break", "at": NOW, "break_reason": "lunch"}),
    (CallLogged, {"agent_id": "a1", "lead_id": "L1", "started_at": NOW, "duration_seconds": 75, "connected": True,
                  "recording_url": "https://dialer.example/rec/1", "trunk": {"id": 7}}),
    (LeadStageChanged, {"lead_id": "L1", "stage_percent": 40, "crm_stage_name": "Proposal"}),
    (LeadComplaint, {"lead_id": "L1", "reason": "打扰", "ticket": "T-9"}),
    (LeadSignal, {"lead_id": "L1", "kind": "level_up", "occurred_at": NOW, "app_version": "5.2"}),
])
def test_an_outside_systems_field_the_contract_does_not_name_is_ignored(model: Any, data: dict[str, Any]) -> None:
    """Forward compatibility: a dialer, CRM or HR system adding a field is no reason to refuse its events; the
    field is not read (a grade from HR is not the platform's weekly grade)."""
    read = model.model_validate(data)
    known = set(model.model_fields)
    assert read.model_dump(include=known & set(data)) == model.model_validate(
        {k: v for k, v in data.items() if k in known}).model_dump(include=known & set(data))
    assert not (set(data) - known) & set(read.model_dump())
    with pytest.raises(ValidationError):  # a known field that cannot be read is still refused
        model.model_validate({**data, sorted(known & set(data))[0]: {"not": "readable"}})


def test_signal_names_a_lead() -> None:
    with pytest.raises(ValidationError, match="lead_id or phone_e164"):
        LeadSignal(kind="unpaid_order", occurred_at=NOW)
    assert LeadSignal(phone_e164="+8613924681357", kind="level_up", occurred_at=NOW).lead_id is None
    with pytest.raises(ValidationError):
        LeadSignal(phone_e164="13924681357", kind="level_up", occurred_at=NOW)


def test_call_duration_is_bounded() -> None:
    with pytest.raises(ValidationError):
        CallLogged(agent_id="a1", lead_id="l1", started_at=NOW, duration_seconds=-1, connected=False)


def test_a_win_carries_a_positive_amount() -> None:
    common = {"lead_id": "l1", "agent_id": "a1", "team_id": None, "agent_grade": "B", "business_line": "edu",
              "pool_id": "edu", "score": 70, "lead_grade": "B", "at": NOW}
    with pytest.raises(ValidationError):
        LeadWon(**common, amount_fen=0)
    event = ALLOCATION_WON.event(LeadWon(**common, amount_fen=300_000), source="/t", tenantid="acme")
    assert ALLOCATION_WON.parse(event.to_json_bytes()).data.amount_fen == 300_000


def test_holder_change_topics_share_the_lead_and_agent_fields() -> None:
    for topic in HOLDER_CHANGE_TOPICS:
        assert {"lead_id", "agent_id", "team_id", "pool_id", "score", "at"} <= set(topic.data_model.model_fields)
    assert CALLS_LOGGED.name == "calls.logged.v1"
