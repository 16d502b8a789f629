"""HTTP API of the console's own routes (the services are reached through /api/..., proxy.py; sign-in is
signin.py; the live channel is the notifications API). Every route here needs a signed-in caller
(session cookie or bearer token) in a role of ACCESS."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from telesales_contracts.activity import CallLogged, CallOutcome, LeadId
from telesales_contracts.envelope import AwareDatetime
from telesales_contracts.marketplace import CallStage
from telesales_contracts.roster import Identifier
from telesales_runtime.auth import ROLES, Caller, unauthorized
from telesales_runtime.http import from_app_state

from .calls import AllocatorRefused, CallLogger
from .proxy import PROXY_METHODS, PROXY_PATH, proxy_router
from .session import UpstreamToken, current_session
from .settings import ConsoleSettings
from .signin import SessionView, session_view

session_router = APIRouter(prefix="/v1", tags=["session"])
calls_router = APIRouter(prefix="/v1", tags=["calls"])

_SIGNED_IN = tuple(r for r in ROLES if r != "service")
# Who may call each route (admin: every route). The proxy lets every signed-in role through: the services
# authorize each call themselves, with the caller's own token.
ACCESS = {
    "GET /v1/session": _SIGNED_IN,
    "POST /v1/calls": ("agent", "supervisor"),
    **{f"{method} {PROXY_PATH}": ROLES for method in PROXY_METHODS},
}
ROUTERS = (session_router, calls_router, proxy_router)

Settings = Annotated[ConsoleSettings, Depends(from_app_state("settings"))]
Calls = Annotated[CallLogger, Depends(from_app_state("calls"))]


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
    stage_reached: CallStage | None = Field(default=None, description="The furthest call stage reached, if known.")
    outcome: CallOutcome | None = Field(default=None, description="Whether the call made progress, if known: one "
                                        "that ends at an objection without progress pushes a tip (marketplace).")


class CallAccepted(BaseModel):
    event_id: str


@calls_router.post("/calls", status_code=202, response_model=CallAccepted,
                   summary="Log a call with a lead the caller holds (published to calls.logged.v1)",
                   responses={403: {"description": "not_your_lead"},
                              409: {"description": "dial_refused: the allocator refuses the dial now (`reason`: "
                                                   "resting, do_not_call, closed, won; `rest_until`)"},
                              503: {"description": "broker unavailable"}})
async def log_call(body: CallIn, caller: Caller, token: UpstreamToken, calls: Calls) -> Any:
    call = CallLogged(call_id=body.call_id, agent_id=caller.sub, lead_id=body.lead_id, started_at=body.started_at,
                      duration_seconds=body.duration_seconds, connected=body.connected,
                      stage_reached=body.stage_reached, outcome=body.outcome)
    try:
        return CallAccepted(event_id=await calls.log(caller=caller, token=token, call=call))
    except AllocatorRefused as refused:  # the allocator's own refusal, as it gave it
        return Response(refused.answer.content, status_code=refused.answer.status_code,
                        media_type=refused.answer.headers.get("content-type"))
