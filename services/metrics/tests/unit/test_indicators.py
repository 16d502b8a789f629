"""An agent's indicators beside its team's (indicators.py)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from pydantic import BaseModel

from metrics import domain
from metrics.indicators import PER_AGENT_FIELDS, indicators_body
from metrics.main import create_app
from metrics.schemas import AgentIndicators, FunnelStepRow, IndicatorCounts, PerAgentAverages, StruggleRates
from metrics.settings import MetricsSettings
from metrics.views import pool_view

DAYS = {"a1": {"2026-11-24": Counter(outbound=4, connected=3, effective=2, deep=1, valid=2, intent=1),
              "2026-11-25": Counter(received=2, processed=1, actual_visit=1, plan=1, paid=1, won=1, won_fen=980_00,
                                    talk_seconds=275, multi_effective_leads=1)},
        "a2": {"2026-11-24": Counter(outbound=6, connected=3, effective=1, valid=1),
               "2026-11-25": Counter(outbound=2)}}


def test_the_team_is_compared_over_the_same_counters_with_per_agent_averages() -> None:
    body = indicators_body(agent_id="a1", agent_doc={"team": "mba"}, mates=["a1", "a2"], days=DAYS,
                           first="2026-11-24", last="2026-11-25")
    assert_described_exactly(body)
    assert (body["totals"]["outbound"], body["totals"]["effective_rate"], body["totals"]["deep_rate"]) == (4, 0.5, 0.25)
    team = body["team"]
    assert (team["team_id"], team["agents"], team["totals"]["outbound"], team["totals"]["connect_rate"]) == (
        "mba", 2, 12, 0.5)
    assert (team["per_agent"]["outbound"], team["per_agent"]["deep"]) == (6.0, 0.5)
    assert [(r["step"], r["count"]) for r in team["funnel"][:2]] == [("valid", 3), ("intent", 1)]
    assert body["rates"]["team"]["connect_60s"] == 0.25 and body["team_agents"] == 2


def test_an_agent_without_a_team_has_nothing_to_compare_with() -> None:
    body = indicators_body(agent_id="a1", agent_doc=None, mates=[], days=DAYS, first="2026-11-24",
                           last="2026-11-25")
    assert_described_exactly(body)
    assert (body["team_id"], body["team"], body["rates"]["team"], body["team_agents"]) == (None, None, {}, 0)
    assert body["funnel"][1] == {"step": "intent", "count": 1, "rate_from_previous": 0.5, "rate_over_total": 0.5}


def assert_described_exactly(body: dict[str, Any]) -> None:
    """The response model takes the body as JSON, strictly (no coercion: an int is no float's stand-in),
    and gives back the same JSON: no field missing, none extra, none null that should be left out."""
    model = AgentIndicators.model_validate_json(json.dumps(body), strict=True)
    assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == body


def field_names(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_the_models_name_the_fields_the_domain_counts() -> None:
    assert field_names(IndicatorCounts) == set(domain.AGENT_FIELDS) | {
        "connect_rate", "effective_rate", "deep_rate", "processing_rate", "conversion_rate"}
    assert field_names(PerAgentAverages) == set(PER_AGENT_FIELDS)
    assert field_names(StruggleRates) == set(domain.agent_rates(Counter(
        outbound=1, effective=1, valid=1, intent=1, actual_visit=1, plan=1)))
    step = FunnelStepRow.model_fields["step"].annotation
    assert step is not None and step.__args__ == domain.LEAD_STEPS[1:]
    assert AgentIndicators.model_fields["cohort"].annotation.__args__ == domain.COHORTS  # type: ignore[union-attr]


def test_the_openapi_document_gives_the_json_shape_and_the_csv() -> None:
    document = create_app(MetricsSettings()).openapi()
    ok = document["paths"]["/v1/agents/{agent_id}/indicators"]["get"]["responses"]["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/AgentIndicators"}
    assert ok["text/csv"]["schema"] == {"type": "string"}
    schemas = document["components"]["schemas"]
    assert {"from", "to", "team", "rates", "days"} <= set(schemas["AgentIndicators"]["required"])
    # rates with nothing to divide by are left out, not null: optional, and no default to make them look required
    assert "required" not in schemas["StruggleRates"]
    assert schemas["StruggleRates"]["properties"]["connect_60s"] == {
        "type": "number", "title": "Connect 60S", "description": "effective / outbound calls."}


def test_the_pool_view_counts_every_reclaim_kind_in_reclaimed() -> None:
    view = pool_view(Counter({"reclaimed_not_processed": 1, "reclaimed_not_converted": 2,
                              "reclaimed_dialled_without_converting": 4}))
    assert (view["reclaimed"], view["reclaimed_dialled_without_converting"]) == (7, 4)
