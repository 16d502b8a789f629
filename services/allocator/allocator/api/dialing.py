"""May an agent dial a lead now (`POST /v1/leads/{lead_id}/dial`)? Asked by the console before it places or
logs a call, and by a dialer. Refusal is an answer (200 with `allowed: false` and a reason code), not an
error; errors are for the question itself: an unknown lead (404), acting for someone one may not (403), and
a number-privacy provider that cannot bind a middle number for an allowed dial (502/503/504, `code`
privacy_*; 503 pool exhausted with Retry-After)."""

from __future__ import annotations

import math

from fastapi import APIRouter

from telesales_runtime.http import Problem, Tenant
from telesales_runtime.problems import coded_problem

from ..domain import DomainError
from ..privacy import PROBLEM_STATUS, PrivacyError
from ..schemas_dialing import DialAnswer, DialBinding, DialIn
from .access import Actor, CallerScope, Leads, Queries, problem_of, require_acting_for

dialing_router = APIRouter(prefix="/v1", tags=["pools and leads"])

PRIVACY_PROBLEMS = {status: {"description": "The number-privacy provider could not bind a middle number "
                             "(`code` privacy_pool_exhausted 503 with Retry-After, privacy_provider_not_configured "
                             "503, privacy_provider_unavailable / _refused / _bad_answer 502, "
                             "privacy_provider_timeout 504)"} for status in sorted(set(PROBLEM_STATUS.values()))}


def privacy_problem(error: PrivacyError) -> Problem:
    problem = coded_problem(PROBLEM_STATUS.get(error.code, 502), error.code, error.message)
    if error.retry_after is not None:
        problem.headers = {"Retry-After": str(math.ceil(error.retry_after))}
    return problem


@dialing_router.post("/leads/{lead_id}/dial", response_model=DialAnswer, responses=PRIVACY_PROBLEMS,  # type: ignore[arg-type]
                     summary="May the agent dial this lead now? Allowed (with the middle number to dial when "
                     "the tenant calls through a number-privacy provider), or refused with the reason")
async def may_dial(lead_id: str, tenant: Tenant, leads: Leads, queries: Queries, actor: Actor, scope: CallerScope,
                   body: DialIn | None = None) -> DialAnswer:
    asked = body or DialIn()
    agent_id = asked.agent_id if asked.agent_id is not None else actor.agent_id
    await require_acting_for(scope, agent_id, queries, tenant)
    # A middle number is for whoever places the call: the agent itself, or a dialer (service) for it. A
    # supervisor asking for an agent learns whether the agent may dial, and gets no number to dial.
    places_call = agent_id == scope.sub or scope.everyone
    try:
        outcome = await leads.may_dial(tenant=tenant, lead_id=lead_id, agent_id=agent_id,
                                       agent_number=asked.agent_number,
                                       check_only=asked.check_only or not places_call)
    except DomainError as error:
        raise problem_of(error) from error
    except PrivacyError as error:
        raise privacy_problem(error) from error
    verdict, binding = outcome.verdict, outcome.binding
    return DialAnswer(lead_id=lead_id, agent_id=agent_id, allowed=verdict.allowed,
                      reason=verdict.reason,  # type: ignore[arg-type]
                      detail=verdict.detail, rest_until=verdict.rest_until,
                      binding=None if binding is None else DialBinding(
                          middle_number=binding.middle_number, binding_id=binding.binding_id,
                          expires_at=binding.expires_at, provider=outcome.provider))  # type: ignore[arg-type]
