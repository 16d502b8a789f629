"""What every route of the ledger shares: the dependencies (service, queries, settings, actor), the
object rules (whose account a caller may read), problem answers and the idempotent replay header."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Response
from pydantic import TypeAdapter, ValidationError

from telesales_contracts.roster import Identifier
from telesales_runtime.auth import Caller, forbidden
from telesales_runtime.http import Problem, Tenant, domain_problem, from_app_state
from telesales_runtime.scope import Scope, scope_of

from .. import domain
from ..domain import DomainError
from ..queries import LedgerQueries
from ..service import LedgerService, Result
from ..settings import LedgerSettings

T = TypeVar("T")

REPLAYED = "Idempotent-Replayed"

# DomainError codes and the HTTP status each is answered with (422 otherwise).
_STATUS = {
    "unknown_hold": 404, "unknown_transfer": 404, "unknown_request": 404, "unknown_allocation": 404,
    "unknown_draw": 404,
    "insufficient_funds": 409, "transfer_id_conflict": 409, "operation_id_conflict": 409, "hold_posted": 409,
    "hold_voided": 409, "hold_expired": 409, "reallocation_needs_approval": 409, "not_reclaimed": 409,
    "request_pending": 409, "request_decided": 409, "not_qualified": 409, "out_of_order": 409,
    "already_approved": 409, "not_an_approver": 403, "outside_your_team": 403,
}


def problem_of(error: DomainError) -> Problem:
    return domain_problem(error, _STATUS)


Ledger = Annotated[LedgerService, Depends(from_app_state("ledger"))]
Queries = Annotated[LedgerQueries, Depends(from_app_state("queries"))]
Settings = Annotated[LedgerSettings, Depends(from_app_state("settings"))]
_ACTOR = TypeAdapter(Identifier)


def get_actor(caller: Caller) -> str:
    """The caller recorded on transfers: the token's sub (a plain identifier)."""
    try:
        return _ACTOR.validate_python(caller.sub)
    except ValidationError as error:
        raise forbidden("invalid_actor", "The token's sub must be a plain identifier to move coins.") from error


Actor = Annotated[str, Depends(get_actor)]


async def get_scope(tenant: Tenant, queries: Queries, caller: Caller) -> Scope:
    """Whose wallets, earnings and requests the caller reaches (telesales_runtime.scope): a supervisor's
    team is the token's, else the one the roster the ledger reads gives it."""
    if caller.trusted or caller.has("operator") or not caller.has("supervisor") or caller.team:
        return scope_of(caller)
    doc = await queries.user(tenant=tenant, user_id=caller.sub) or {}
    return scope_of(caller, roster_teams=[doc.get("team_id")])


CallerScope = Annotated[Scope, Depends(get_scope)]


async def require_user(scope: Scope, queries: LedgerQueries, tenant: str, user_id: str) -> None:
    """Object rule: an agent only its own wallet, earnings and requests; a supervisor those of its scope
    (its team); operators, service and admin every user's."""
    if scope.everyone or scope.sub == user_id:
        return
    doc = await queries.user(tenant=tenant, user_id=user_id) if scope.supervisor else None
    scope.require(user_id, (doc or {}).get("team_id"), "not_your_account")


async def require_account(scope: Scope, queries: LedgerQueries, tenant: str, key: str) -> None:
    """Agents and supervisors read user accounts only (their own, their team's); the system accounts are
    the operators'."""
    if scope.everyone:
        return
    ref = domain.parse_account(key)
    owner = ref.owner if ref.kind in domain.USER_ACCOUNTS else None
    if owner is None:
        raise forbidden("not_your_account", f"{key} is not a user's account.")
    await require_user(scope, queries, tenant, owner)


async def users_in_scope(scope: Scope, queries: LedgerQueries, tenant: str) -> frozenset[str] | None:
    """The users whose records a list may show the caller: None for everyone's, else itself and the users
    of its teams."""
    if scope.everyone:
        return None
    return frozenset({scope.sub, *await queries.users_of_teams(tenant=tenant, teams=scope.teams)})


def account_key(account: str) -> str:
    try:
        domain.parse_account(account)
    except DomainError as error:
        raise problem_of(error) from error
    return account


def answered(response: Response, result: Result | bool) -> None:
    replayed = result.replayed if isinstance(result, Result) else result
    response.status_code = 200 if replayed else 201
    if replayed:
        response.headers[REPLAYED] = "true"


async def run(call: Awaitable[T]) -> T:
    try:
        return await call
    except DomainError as error:
        raise problem_of(error) from error


def aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Problem(422, "Invalid time", f"{name} needs a time zone offset, e.g. 2026-11-24T00:00:00+08:00")
    return value
