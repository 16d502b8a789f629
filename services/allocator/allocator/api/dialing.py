"""May an agent dial a lead now (`POST /v1/leads/{lead_id}/dial`)? Asked by the console before it places or
logs a call, and by a dialer. Refusal is an answer (200 with `allowed: false` and a reason code), not an
error; errors are for the question itself: an unknown lead (404), acting for someone one may not (403)."""

from __future__ import annotations

from fastapi import APIRouter

from telesales_runtime.http import Tenant

from ..domain import DomainError
from ..schemas import DialAnswer, DialIn
from .access import Actor, CallerScope, Leads, Queries, problem_of, require_acting_for

dialing_router = APIRouter(prefix="/v1", tags=["pools and leads"])


@dialing_router.post("/leads/{lead_id}/dial", response_model=DialAnswer,
                     summary="May the agent dial this lead now? Allowed, or refused with the reason")
async def may_dial(lead_id: str, tenant: Tenant, leads: Leads, queries: Queries, actor: Actor, scope: CallerScope,
                   body: DialIn | None = None) -> DialAnswer:
    agent_id = body.agent_id if body is not None and body.agent_id is not None else actor.agent_id
    await require_acting_for(scope, agent_id, queries, tenant)
    try:
        verdict = await leads.may_dial(tenant=tenant, lead_id=lead_id, agent_id=agent_id)
    except DomainError as error:
        raise problem_of(error) from error
    return DialAnswer(lead_id=lead_id, agent_id=agent_id, allowed=verdict.allowed,
                      reason=verdict.reason,  # type: ignore[arg-type]
                      detail=verdict.detail, rest_until=verdict.rest_until)
