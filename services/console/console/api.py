"""HTTP API of the console's own routes (the services are reached through /api/..., proxy.py; sign-in is
signin.py; the live channel is the notifications API). Every route here needs a signed-in caller
(session cookie or bearer token) in a role of ACCESS."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request, Response
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, ConfigDict, Field

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_contracts.activity import CallLogged, LeadId
from telesales_contracts.envelope import AwareDatetime
from telesales_contracts.roster import Identifier
from telesales_contracts.topics import CALLS_LOGGED
from telesales_runtime.auth import ANY_ROLE, Caller, Principal, unauthorized
from telesales_runtime.http import Problem, coded_problem, from_app_state

from . import domain
from .proxy import PROXY_METHODS, PROXY_PATH, proxy_router
from .session import UpstreamToken, current_session
from .settings import ConsoleSettings
from .signin import SessionView, session_view
from .store import SessionStore

session_router = APIRouter(prefix="/v1", tags=["session"])
calls_router = APIRouter(prefix="/v1", tags=["calls"])

_SIGNED_IN = tuple(r for r in ANY_ROLE if r != "service")
# Who may call each route (admin: every route). The proxy lets every signed-in role through: the services
# authorize each call themselves, with the caller's own token.
ACCESS = {
    "GET /v1/session": _SIGNED_IN,
    "POST /v1/calls": ("agent", "supervisor"),
    **{f"{method} {PROXY_PATH}": ANY_ROLE for method in PROXY_METHODS},
}
ROUTERS = (session_router, calls_router, proxy_router)

Settings = Annotated[ConsoleSettings, Depends(from_app_state("settings"))]
Store = Annotated[SessionStore, Depends(from_app_state("store"))]
Broker = Annotated[KafkaBroker, Depends(from_app_state("broker"))]


@session_router.get("/session", response_model=SessionView, summary="Who is signed in, the CSRF token to send, and when the session ends")
async def get_session(request: Request, caller: Caller, settings: Settings) -> dict[str, Any]:
    session = current_session(request)
    if session is None:  # a bearer token: there is no browser session to describe
        raise unauthorized("No session: sign in (GET /auth/login, or POST /auth/dev-login in development).")
    return session_view(session, settings)


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: Identifier = Field(description="Made by the client once per call: a retry sends the same id.")
    lead_id: LeadId
    started_at: AwareDatetime
    duration_seconds: int = Field(ge=0, le=86_400)
    connected: bool


class CallAccepted(BaseModel):
    event_id: str


async def _held_by(request: Request, *, lead_id: str, caller: Principal, token: str) -> None:
    """Refuse unless `caller` holds the lead now (asked of the allocator with the caller's own token)."""
    settings: ConsoleSettings = request.app.state.settings
    http: httpx.AsyncClient = request.app.state.upstream_http
    try:
        answer = await http.get(f"{settings.allocator_url.rstrip('/')}/v1/leads/{lead_id}",
                                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    except httpx.TimeoutException as error:
        raise Problem(504, "Gateway timeout", "The allocator did not answer in time.", code="upstream_timeout") \
            from error
    except httpx.HTTPError as error:
        raise Problem(502, "Bad gateway", "The allocator does not answer.", code="upstream_unavailable") from error
    if answer.status_code in (401, 403, 404):  # the allocator's own refusal, as it gave it
        raise _Passthrough(answer)
    if answer.status_code != 200:
        raise Problem(502, "Bad gateway", f"The allocator answered {answer.status_code}.", code="upstream_failed")
    if answer.json().get("holder") != caller.sub:
        raise coded_problem(403, "not_your_lead", f"{caller.sub} does not hold lead {lead_id}.")


class _Passthrough(Exception):
    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer


@calls_router.post("/calls", status_code=202, response_model=CallAccepted,
                   summary="Log a call with a lead the caller holds (published to calls.logged.v1)",
                   responses={403: {"description": "not_your_lead"}, 503: {"description": "broker unavailable"}})
async def log_call(body: CallIn, request: Request, caller: Caller, token: UpstreamToken, settings: Settings,
                   store: Store, broker: Broker) -> Any:
    event_id = domain.call_event_id(tenant=caller.tenant, agent_id=caller.sub, call_id=body.call_id)
    if await store.call_logged(event_id):  # a retry of a call the broker already confirmed
        return CallAccepted(event_id=event_id)
    try:
        await _held_by(request, lead_id=body.lead_id, caller=caller, token=token)
    except _Passthrough as refused:
        return Response(refused.answer.content, status_code=refused.answer.status_code,
                        media_type=refused.answer.headers.get("content-type"))
    data = CallLogged(call_id=body.call_id, agent_id=caller.sub, lead_id=body.lead_id, started_at=body.started_at,
                      duration_seconds=body.duration_seconds, connected=body.connected)
    event = CALLS_LOGGED.event(data, source=settings.source, tenantid=caller.tenant, id=event_id)
    try:
        # A broker that stopped answering would hold the request until the producer's own timeout: answer
        # 503 in time instead; a retry with the same call_id is the same event.
        await asyncio.wait_for(broker.publish(event.to_json_bytes(), topic=CALLS_LOGGED.name,
                                              key=body.lead_id.encode(),
                                              headers={"content-type": CLOUDEVENTS_CONTENT_TYPE}),
                               timeout=settings.publish_timeout_seconds)
    except TimeoutError:
        raise Problem(503, "Broker unavailable", f"The message broker did not confirm the call within "
                      f"{settings.publish_timeout_seconds:g} s; retry later with the same call_id.",
                      headers={"Retry-After": "5"}) from None
    await store.mark_call_logged(event_id, tenant=caller.tenant, agent_id=caller.sub, call_id=body.call_id,
                                 logged_at=datetime.now(UTC))
    return CallAccepted(event_id=event_id)
