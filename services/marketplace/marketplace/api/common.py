"""What every route of the marketplace's HTTP API shares: who may call it (ACCESS), the caller as the
rules see it, errors as problem+json, and the views of stored documents."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from pydantic import TypeAdapter, ValidationError

from telesales_contracts.roster import Identifier
from telesales_runtime.auth import Caller as Principal
from telesales_runtime.http import Problem, domain_problem, from_app_state
from telesales_runtime.scope import scope_of

from ..domain import Actor, DomainError, Version
from ..metrics_client import team_of
from ..schemas import PurchaseView, TipView, VersionView
from ..service import MarketplaceService
from ..settings import MarketplaceSettings
from ..store import Doc

T = TypeVar("T")

# Who may call each route (admin: every route). The floor (agents, supervisors) writes, buys and learns;
# operators review; machine clients (service: a dialer or CRM) read listings and recommendations.
_FLOOR = ("agent", "supervisor")
_AUTHORS = ("agent", "supervisor", "operator")
_EVERYONE = ("agent", "supervisor", "operator", "service")
ACCESS = {
    "GET /v1/review-checklist": _EVERYONE,
    "POST /v1/tips": _FLOOR,
    "GET /v1/tips/{tip_id}/versions": _AUTHORS,
    "GET /v1/tips/{tip_id}/versions/{version}": _AUTHORS,
    "GET /v1/tips/{tip_id}/content": _AUTHORS,
    "PATCH /v1/tips/{tip_id}/versions/{version}": _FLOOR,
    "POST /v1/tips/{tip_id}/versions": _FLOOR,
    "POST /v1/tips/{tip_id}/versions/{version}/submit": _FLOOR,
    "GET /v1/review-queue": ("operator",),
    "POST /v1/tips/{tip_id}/versions/{version}/review": ("operator",),
    "POST /v1/tips/{tip_id}/delist": _AUTHORS,
    "PUT /v1/tips/{tip_id}/versions/{version}/media": _FLOOR,
    "GET /v1/tips/{tip_id}/media": _AUTHORS,
    "GET /v1/tips/{tip_id}/versions/{version}/media": _AUTHORS,
    "GET /v1/tips": _EVERYONE,
    "GET /v1/tips/{tip_id}": _EVERYONE,
    "POST /v1/tips/{tip_id}/purchases": _FLOOR,
    "GET /v1/tips/{tip_id}/purchases/mine": _FLOOR,
    "POST /v1/tips/{tip_id}/visits": _FLOOR,
    "POST /v1/tips/{tip_id}/learning": _FLOOR,
    "GET /v1/tips/{tip_id}/funnel": ("agent", "supervisor", "operator"),
    "GET /v1/learners/{user_id}": ("agent", "supervisor", "operator"),
    "POST /v1/tips/{tip_id}/ratings": _FLOOR,
    "GET /v1/tips/{tip_id}/ratings": _EVERYONE,
    "POST /v1/tips/{tip_id}/forwards": _FLOOR,
    "GET /v1/sellers/{seller_id}": _EVERYONE,
    "GET /v1/sellers/{seller_id}/sales": ("agent", "supervisor", "operator"),
    "POST /v1/sellers/{seller_id}/redemptions": _FLOOR,
    "POST /v1/agents/{agent_id}/struggle": ("agent", "supervisor", "operator", "service"),
    "GET /v1/agents/{agent_id}/recommendations/latest": ("agent", "supervisor", "operator", "service"),
}

_STATUS = {
    "unknown_tip": 404, "unknown_version": 404,
    "not_author": 403, "not_reviewer": 403, "not_bought": 403, "not_seller": 403,
    "bad_cursor": 400, "tip_exists": 409, "version_not_editable": 409, "not_a_draft": 409, "not_submitted": 409, "own_tip": 409,
    "version_in_progress": 409, "stale_version": 409, "not_listed": 409, "version_changed": 409,
    "purchase_changed": 409, "already_rated": 409, "media_too_large": 413, "ledger_unavailable": 503,
    "metrics_unavailable": 503, "metrics_failed": 502,
}


def problem_of(error: DomainError) -> Problem:
    return domain_problem(error, _STATUS)


async def run(call: Awaitable[T]) -> T:
    try:
        return await call
    except DomainError as error:
        raise problem_of(error) from error


Market = Annotated[MarketplaceService, Depends(from_app_state("marketplace"))]
Settings = Annotated[MarketplaceSettings, Depends(from_app_state("settings"))]
_IDENTIFIER = TypeAdapter(Identifier)


async def required_actor(caller: Principal) -> Actor:
    """The caller as the marketplace's rules see it: operators and admin review (privileged), everyone
    else acts as an agent; the token's sub must be a plain identifier."""
    try:
        user_id = _IDENTIFIER.validate_python(caller.sub)
    except ValidationError as error:
        raise Problem(403, "Invalid actor", "The token's sub must be a plain identifier.",
                      code="invalid_actor") from error
    return Actor(user_id, "operator" if caller.has("operator", "admin") else "agent")


async def optional_actor(caller: Principal) -> Actor | None:
    """A person calling (None for a machine client: service tokens)."""
    return None if caller.roles == {"service"} else await required_actor(caller)


Caller = Annotated[Actor, Depends(required_actor)]
MaybeCaller = Annotated[Actor | None, Depends(optional_actor)]


# ---- views ----------------------------------------------------------------------------------------------


def version_view(doc: Doc, *, with_body: bool) -> VersionView:
    media = doc.get("media")
    return VersionView(tip_id=doc["tip_id"], version=doc["version"], author_id=doc["author_id"], status=doc["status"],
                       title=doc["title"], summary=doc.get("summary"), body=doc.get("body") if with_body else None,
                       stage=doc["stage"], product_line=doc["product_line"], tags=doc.get("tags") or [],
                       price=doc["price"], media={k: media[k] for k in ("content_type", "length", "filename")}
                       if media else None, review=doc.get("review"), created_at=doc["created_at"],
                       updated_at=doc["updated_at"], submitted_at=doc.get("submitted_at"))


def tip_view(doc: Doc, access: bool | None = None) -> TipView:
    return TipView(tip_id=doc["tip_id"], author_id=doc["author_id"], status=doc["status"],
                   latest_version=doc["latest_version"], listed_version=doc.get("listed_version"),
                   title=doc.get("title"), summary=doc.get("summary"), stage=doc.get("stage"),
                   product_line=doc.get("product_line"), tags=doc.get("tags") or [], price=doc.get("price"),
                   has_media=bool(doc.get("media")), rating=doc.get("rating_avg"), ratings=doc.get("rating_count", 0),
                   sales=doc.get("sales", 0), listed_at=doc.get("listed_at"), score=doc.get("score"), access=access)


def purchase_view(doc: Doc) -> PurchaseView:
    return PurchaseView.model_validate({k: v for k, v in doc.items() if k in PurchaseView.model_fields})




async def require_user(caller: Principal, request: Request, tenant: str, user_id: str) -> None:
    """Object rule of a user's learning, sales, recommendations and of pushing a tip to a user: an agent
    itself; a supervisor the users of its scope (telesales_runtime.scope: the token's team, else its roster
    team; the marketplace keeps no roster, so teams come from metrics, which learns them from the roster
    events); operators, service and admin everyone."""
    scope = scope_of(caller)
    if scope.everyone or user_id == caller.sub:
        return
    if not scope.supervisor:
        raise scope.refusal(user_id, "not_yours")
    metrics_http = request.app.state.metrics_http
    if not scope.teams:
        scope = scope_of(caller, roster_teams=[await run(team_of(metrics_http, tenant, caller.sub))])
    scope.require(user_id, await run(team_of(metrics_http, tenant, user_id)), "not_yours")


def written_version_view(version: Version) -> VersionView:
    """A version as its author (or reviewer) just wrote it, with its script."""
    return version_view(version.as_doc(), with_body=True)
