"""HTTP API of the ledger. Every route works within one tenant (the token's) and needs a role of
ACCESS; the caller (the token's sub) is recorded on every transfer. Operations with a client-chosen `id` are
idempotent: a retry answers 200 with `Idempotent-Replayed: true` and the first result; the same id with
other content is a 409 problem."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter, ValidationError

from telesales_contracts.ledger import TransferId
from telesales_contracts.roster import Identifier, Role
from telesales_runtime.auth import Caller, Principal, forbidden, require_team
from telesales_runtime.consumer import describe_validation_error
from telesales_runtime.http import (
    IfMatch,
    Problem,
    Tenant,
    domain_problem,
    from_app_state,
    if_match_version,
)

from . import domain
from .domain import DomainError, LedgerPolicy, TransferSpec, earnings, wallet
from .schemas import (
    AccountPage,
    AccountPatch,
    AccountView,
    AllocationIn,
    AllocationView,
    AuditView,
    BlindBoxIn,
    BlindBoxReplay,
    BlindBoxView,
    ConfigView,
    HoldSweep,
    IssueIn,
    LinkedTransfersIn,
    LinkedTransfersView,
    PostHoldIn,
    ReallocationDecisionIn,
    ReallocationRequestIn,
    ReallocationRequestView,
    ReclaimRun,
    RedemptionIn,
    RedemptionView,
    StatementLine,
    StatementPage,
    TopSeller,
    TransferIn,
    TransferView,
    UserView,
)
from .service import LedgerService, Result, RosterSelection, statement_line
from .settings import LedgerSettings
from .store import Doc

accounts_router = APIRouter(prefix="/v1", tags=["accounts and statements"])
transfers_router = APIRouter(prefix="/v1", tags=["transfers and holds"])
operations_router = APIRouter(prefix="/v1", tags=["allocation, reclaim, redemption, blind box"])
admin_router = APIRouter(prefix="/v1", tags=["configuration and audit"])

REPLAYED = "Idempotent-Replayed"

# Who may call each route (admin: every route). Operators run the coin budget (issue, allocate, reclaim,
# approve, blind boxes, policy); the marketplace (service) moves coins for purchases and redemptions; an agent
# reads its own wallet and earnings and asks for coins again; a supervisor reads those of its team.
_OPS = ("operator",)
_OPS_SERVICE = ("operator", "service")
_READERS = ("agent", "supervisor", "operator", "service")
ACCESS = {
    "GET /v1/accounts": _OPS_SERVICE,
    "GET /v1/accounts/{account}": _READERS,
    "PATCH /v1/accounts/{account}": _OPS,
    "GET /v1/accounts/{account}/statement": _READERS,
    "GET /v1/accounts/{account}/statement.csv": _READERS,
    "GET /v1/users/{user_id}": _READERS,
    "POST /v1/transfers": _OPS_SERVICE,
    "POST /v1/linked-transfers": _OPS_SERVICE,
    "POST /v1/issues": _OPS,
    "GET /v1/transfers/{transfer_id:path}": _OPS_SERVICE,
    "POST /v1/transfers/{transfer_id}/post": _OPS_SERVICE,
    "POST /v1/transfers/{transfer_id}/void": _OPS_SERVICE,
    "POST /v1/holds/expire": _OPS,
    "POST /v1/allocations": _OPS,
    "GET /v1/allocations/{allocation_id}": ("supervisor", "operator"),
    "POST /v1/reclaims": _OPS,
    "POST /v1/reallocation-requests": ("agent", "supervisor", "operator"),
    "GET /v1/reallocation-requests": ("supervisor", "operator"),
    "GET /v1/reallocation-requests/{request_id}": ("agent", "supervisor", "operator"),
    "POST /v1/reallocation-requests/{request_id}/approve": _OPS,
    "POST /v1/reallocation-requests/{request_id}/reject": _OPS,
    "POST /v1/redemptions": _OPS_SERVICE,
    "POST /v1/blind-boxes": _OPS,
    "GET /v1/blind-boxes/{draw_id}": ("supervisor", "operator"),
    "GET /v1/blind-boxes/{draw_id}/replay": ("supervisor", "operator"),
    "GET /v1/reports/top-sellers": ("supervisor", "operator"),
    "GET /v1/config/policy": ("supervisor", "operator", "service"),
    "PUT /v1/config/policy": _OPS,
    "GET /v1/audit": _OPS,
}

# DomainError codes and the HTTP status each is answered with (422 otherwise).
_STATUS = {
    "unknown_hold": 404, "unknown_transfer": 404, "unknown_request": 404, "unknown_allocation": 404,
    "unknown_draw": 404,
    "insufficient_funds": 409, "transfer_id_conflict": 409, "operation_id_conflict": 409, "hold_posted": 409,
    "hold_voided": 409, "hold_expired": 409, "reallocation_needs_approval": 409, "not_reclaimed": 409,
    "request_pending": 409, "request_decided": 409,
}


def problem_of(error: DomainError) -> Problem:
    return domain_problem(error, _STATUS)


Ledger = Annotated[LedgerService, Depends(from_app_state("ledger"))]
Settings = Annotated[LedgerSettings, Depends(from_app_state("settings"))]
_ACTOR = TypeAdapter(Identifier)


def get_actor(caller: Caller) -> str:
    """The caller recorded on transfers: the token's sub (a plain identifier)."""
    try:
        return _ACTOR.validate_python(caller.sub)
    except ValidationError as error:
        raise forbidden("invalid_actor", "The token's sub must be a plain identifier to move coins.") from error


Actor = Annotated[str, Depends(get_actor)]


async def require_user(caller: Principal, ledger: LedgerService, tenant: str, user_id: str) -> None:
    """Object rule: an agent only its own wallet, earnings and requests; a supervisor those of its team
    (the roster the ledger reads); operators, service and admin every user's."""
    if caller.trusted or caller.has("operator") or caller.sub == user_id:
        return
    doc = await ledger.store.user(tenant, user_id) if caller.has("supervisor") else None
    require_team(caller, user_id, (doc or {}).get("team_id"), "not_your_account")


async def require_account(caller: Principal, ledger: LedgerService, tenant: str, key: str) -> None:
    """Agents and supervisors read user accounts only (their own, their team's); the system accounts are
    the operators'."""
    if caller.trusted or caller.has("operator"):
        return
    ref = domain.parse_account(key)
    owner = ref.owner if ref.kind in domain.USER_ACCOUNTS else None
    if owner is None:
        raise forbidden("not_your_account", f"{key} is not a user's account.")
    await require_user(caller, ledger, tenant, owner)


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


async def run(call: Any) -> Any:
    try:
        return await call
    except DomainError as error:
        raise problem_of(error) from error


# ---- views ----------------------------------------------------------------------------------------------


def transfer_view(doc: Doc) -> TransferView:
    return TransferView(transfer_id=doc["transfer_id"], kind=doc["kind"], state=doc["state"], debit=doc.get("debit"),
                        credit=doc.get("credit"), amount=doc["amount"], target=doc.get("target"),
                        expires_at=doc.get("expires_at"), posted_amount=doc.get("posted_amount"),
                        void_reason=doc.get("void_reason"), linked_group=doc.get("linked_group"),
                        hold_id=doc.get("hold_id"), created_at=doc["created_at"], posted_at=doc.get("posted_at"),
                        voided_at=doc.get("voided_at"), by=doc.get("by"), note=doc.get("note"),
                        purchase=doc.get("purchase"), redemption=doc.get("redemption"))


def account_view(key: str, doc: Doc | None) -> AccountView:
    ref = domain.parse_account(key)
    doc = doc or {}
    return AccountView(account=key, kind=ref.kind.value, owner=ref.owner, balance=int(doc.get("balance", 0)),
                       allow_negative=bool(doc.get("allow_negative", domain.allows_negative_by_default(key))),
                       allocation_blocked=bool(doc.get("allocation_blocked")),
                       last_activity_at=doc.get("last_activity_at"), reclaimed_at=doc.get("reclaimed_at"),
                       exists=bool(doc))


def allocation_view(doc: Doc) -> AllocationView:
    return AllocationView(allocation_id=doc["op_id"], amount=doc["amount"], selection=doc["selection"],
                          filter=doc.get("filter"), allocated=doc["allocated"], skipped=doc["skipped"],
                          total=doc["total"], by=doc["by"], note=doc.get("note"), created_at=doc["created_at"])


def blind_box_view(doc: Doc) -> BlindBoxView:
    return BlindBoxView(draw_id=doc["op_id"], seed=doc["seed"], algorithm=doc["algorithm"],
                        recipients=doc["recipients"], min_amount=doc["min_amount"], max_amount=doc["max_amount"],
                        awards=doc["awards"], total=doc["total"], by=doc["by"], created_at=doc["created_at"])


def request_view(doc: Doc) -> ReallocationRequestView:
    return ReallocationRequestView.model_validate({k: v for k, v in doc.items() if k not in ("_id", "tenant_id")})


def redemption_view(doc: Doc) -> RedemptionView:
    r = doc["redemption"]
    return RedemptionView(transfer_id=doc["transfer_id"], user_id=r["user_id"], coins=r["coins"],
                          yuan_fen=r["yuan_fen"], item=r.get("item"), by=doc["by"], created_at=doc["created_at"])


def encode_cursor(doc: Doc) -> str:
    raw = json.dumps([doc["created_at"].isoformat(), doc["_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), str(last_id)
    except (ValueError, TypeError) as error:
        raise Problem(400, "Bad cursor", "Use the next_cursor of the previous page.") from error


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Problem(422, "Invalid time", f"{name} needs a time zone offset, e.g. 2026-11-24T00:00:00+08:00")
    return value


# ---- accounts and statements ----------------------------------------------------------------------------


@accounts_router.get("/accounts", response_model=AccountPage, summary="Accounts of the tenant, by kind")
async def list_accounts(tenant: Tenant, ledger: Ledger, kind: domain.AccountKind | None = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None) -> AccountPage:
    docs = await ledger.store.list_accounts(tenant, kind=kind.value if kind else None, limit=limit + 1, after=cursor)
    more = len(docs) > limit
    docs = docs[:limit]
    return AccountPage(items=[account_view(d["key"], d) for d in docs], next_cursor=docs[-1]["key"] if more else None)


@accounts_router.get("/accounts/{account}", response_model=AccountView, summary="An account and its balance")
async def get_account(account: str, tenant: Tenant, ledger: Ledger, caller: Caller) -> AccountView:
    key = account_key(account)
    await require_account(caller, ledger, tenant, key)
    return account_view(key, await ledger.store.account(tenant, key))


@accounts_router.patch("/accounts/{account}", response_model=AccountView,
                       summary="Allow (or forbid) an account to go below zero")
async def patch_account(account: str, body: AccountPatch, tenant: Tenant, ledger: Ledger, actor: Actor) -> AccountView:
    key = account_key(account)
    doc = await run(ledger.set_allow_negative(tenant, key, body.allow_negative))
    return account_view(key, doc)


@accounts_router.get("/accounts/{account}/statement", response_model=StatementPage,
                     summary="An account's transfers, oldest first, by time and kind")
async def statement(account: str, tenant: Tenant, ledger: Ledger, caller: Caller, since: datetime | None = None,
                    until: datetime | None = None, kind: Annotated[list[str] | None, Query()] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None) -> StatementPage:
    key = account_key(account)
    await require_account(caller, ledger, tenant, key)
    docs = await ledger.store.statement(tenant, key, since=_aware(since, "since"), until=_aware(until, "until"),
                                        kinds=kind or [], limit=limit + 1,
                                        after=decode_cursor(cursor) if cursor else None)
    more = len(docs) > limit
    docs = docs[:limit]
    doc = await ledger.store.account(tenant, key)
    return StatementPage(account=key, balance=int((doc or {}).get("balance", 0)),
                         items=[StatementLine.model_validate(statement_line(d, key)) for d in docs],
                         next_cursor=encode_cursor(docs[-1]) if more else None)


CSV_COLUMNS = ["at", "transfer_id", "kind", "state", "direction", "amount", "signed_amount", "counterparty",
               "linked_group", "hold_id", "reference", "note", "by"]


@accounts_router.get("/accounts/{account}/statement.csv", summary="An account's statement as CSV, for finance",
                     response_class=StreamingResponse,
                     responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def statement_csv(account: str, tenant: Tenant, ledger: Ledger, settings: Settings, caller: Caller,
                        since: datetime | None = None, until: datetime | None = None,
                        kind: Annotated[list[str] | None, Query()] = None) -> StreamingResponse:
    """UTF-8 with a byte-order mark (Excel opens it as UTF-8), one line per transfer, oldest first."""
    key = account_key(account)
    await require_account(caller, ledger, tenant, key)
    since, until = _aware(since, "since"), _aware(until, "until")

    async def rows() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        yield ("\ufeff" + buffer.getvalue()).encode()
        after, sent = None, 0
        while sent < settings.statement_csv_max_rows:
            page = await ledger.store.statement(tenant, key, since=since, until=until, kinds=kind or [],
                                                limit=min(1000, settings.statement_csv_max_rows - sent), after=after)
            if not page:
                return
            buffer.seek(0)
            buffer.truncate()
            for doc in page:
                line = statement_line(doc, key)
                line["at"] = line["at"].isoformat()
                writer.writerow(["" if line[c] is None else line[c] for c in CSV_COLUMNS])
            sent += len(page)
            after = (page[-1]["created_at"], page[-1]["_id"])
            yield buffer.getvalue().encode()

    filename = f"statement-{key.replace(':', '_')}.csv"
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@accounts_router.get("/users/{user_id}", response_model=UserView, summary="A user: roster record and balances")
async def get_user(user_id: Identifier, tenant: Tenant, ledger: Ledger, caller: Caller) -> UserView:
    await require_user(caller, ledger, tenant, user_id)
    doc = await ledger.store.user(tenant, user_id) or {}
    spend = await ledger.store.account(tenant, wallet(user_id)) or {}
    earned = await ledger.store.account(tenant, earnings(user_id)) or {}
    return UserView(user_id=user_id, name=doc.get("name"), role=doc.get("role"), grade=doc.get("grade"),
                    team_id=doc.get("team_id"), business_line=doc.get("business_line"), active=doc.get("active"),
                    on_roster=bool(doc), wallet=int(spend.get("balance", 0)), earnings=int(earned.get("balance", 0)),
                    allocation_blocked=bool(spend.get("allocation_blocked")))


# ---- transfers and holds --------------------------------------------------------------------------------


def spec_of(body: TransferIn) -> TransferSpec:
    return TransferSpec(body.id, body.debit, body.credit, body.amount, body.kind, body.pending, body.timeout_seconds,
                        body.note)


@transfers_router.post("/transfers", response_model=TransferView, status_code=201,
                       summary="Transfer coins, or hold them (pending)")
async def create_transfer(body: TransferIn, tenant: Tenant, ledger: Ledger, actor: Actor,
                          response: Response) -> TransferView:
    docs, replayed = await run(ledger.transfer(tenant, [spec_of(body)], actor=actor))
    answered(response, replayed)
    return transfer_view(docs[0])


@transfers_router.post("/linked-transfers", response_model=LinkedTransfersView, status_code=201,
                       summary="Transfers that succeed or fail together")
async def create_linked(body: LinkedTransfersIn, tenant: Tenant, ledger: Ledger, actor: Actor,
                        response: Response) -> LinkedTransfersView:
    docs, replayed = await run(ledger.transfer(tenant, [spec_of(t) for t in body.transfers], actor=actor,
                                               linked=True))
    answered(response, replayed)
    return LinkedTransfersView(transfers=[transfer_view(d) for d in docs])


@transfers_router.post("/issues", response_model=TransferView, status_code=201,
                       summary="Issue new coins into the operators' budget")
async def issue(body: IssueIn, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response) -> TransferView:
    doc, replayed = await run(ledger.issue(tenant, body.id, body.amount, actor=actor, note=body.note))
    answered(response, replayed)
    return transfer_view(doc)


@transfers_router.get("/transfers/{transfer_id:path}", response_model=TransferView,
                      summary="A transfer (the ledger's own legs have ids like <hold>/post, <purchase>/sale)")
async def get_transfer(transfer_id: str, tenant: Tenant, ledger: Ledger) -> TransferView:
    doc = await ledger.store.transfer(tenant, transfer_id)
    if doc is None:
        raise Problem(404, "Unknown transfer", f"There is no transfer {transfer_id!r}.", code="unknown_transfer")
    return transfer_view(doc)


@transfers_router.post("/transfers/{transfer_id}/post", response_model=TransferView,
                       summary="Post a pending transfer (all, or part: the rest is released)")
async def post_hold(transfer_id: str, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response,
                    body: PostHoldIn | None = None) -> TransferView:
    result = await run(ledger.post_hold(tenant, transfer_id, body.amount if body else None, actor=actor))
    answered(response, result)
    response.status_code = 200
    return transfer_view(result.doc)


@transfers_router.post("/transfers/{transfer_id}/void", response_model=TransferView,
                       summary="Void a pending transfer: the coins go back")
async def void_hold(transfer_id: str, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response) -> TransferView:
    result = await run(ledger.void_hold(tenant, transfer_id, actor=actor))
    answered(response, result)
    response.status_code = 200
    return transfer_view(result.doc)


@transfers_router.post("/holds/expire", response_model=HoldSweep, summary="Void every hold past its timeout now")
async def expire_holds(ledger: Ledger, actor: Actor) -> HoldSweep:
    return HoldSweep(voided=await ledger.expire_holds())


# ---- allocation, reclaim, redemption, blind box ---------------------------------------------------------


@operations_router.post("/allocations", response_model=AllocationView, status_code=201,
                        summary="Allocate coins from the budget to users, one by one or by role and grade (配置)")
async def allocate(body: AllocationIn, tenant: Tenant, ledger: Ledger, actor: Actor,
                   response: Response) -> AllocationView:
    selection = None
    if body.user_ids is None:
        selection = RosterSelection(roles=tuple(r.value for r in body.roles or [Role.AGENT]),
                                    grades=tuple(body.grades or ()), team_id=body.team_id,
                                    business_line=body.business_line)
    result = await run(ledger.allocate(tenant, body.id, body.amount, actor=actor, user_ids=body.user_ids,
                                       selection=selection, note=body.note))
    answered(response, result)
    return allocation_view(result.doc)


@operations_router.get("/allocations/{allocation_id}", response_model=AllocationView)
async def get_allocation(allocation_id: TransferId, tenant: Tenant, ledger: Ledger) -> AllocationView:
    doc = await ledger.store.operation(tenant, allocation_id)
    if doc is None or doc.get("kind") != "allocation":
        raise Problem(404, "Unknown allocation", f"There is no allocation {allocation_id!r}.", code="unknown_allocation")
    return allocation_view(doc)


@operations_router.post("/reclaims", response_model=ReclaimRun, summary="Reclaim idle wallets of this tenant now (回收)")
async def reclaim(tenant: Tenant, ledger: Ledger, actor: Actor) -> ReclaimRun:
    done = await ledger.reclaim_idle(tenant)
    return ReclaimRun(reclaimed=done, total=sum(d["amount"] for d in done))


@operations_router.post("/reallocation-requests", response_model=ReallocationRequestView, status_code=201,
                        summary="Ask to get coins again after a reclaim")
async def request_reallocation(body: ReallocationRequestIn, tenant: Tenant, ledger: Ledger,
                               actor: Actor, caller: Caller) -> ReallocationRequestView:
    await require_user(caller, ledger, tenant, body.user_id)
    return request_view(await run(ledger.request_reallocation(tenant, body.user_id, body.reason, actor=actor)))


@operations_router.get("/reallocation-requests", response_model=list[ReallocationRequestView])
async def list_reallocation_requests(tenant: Tenant, ledger: Ledger, status: str | None = None,
                                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[ReallocationRequestView]:
    return [request_view(d) for d in await ledger.store.list_requests(tenant, status, limit)]


@operations_router.get("/reallocation-requests/{request_id}", response_model=ReallocationRequestView)
async def get_reallocation_request(request_id: str, tenant: Tenant, ledger: Ledger,
                                   caller: Caller) -> ReallocationRequestView:
    doc = await ledger.store.reallocation_request(tenant, request_id)
    if doc is None:
        raise Problem(404, "Unknown request", f"There is no request {request_id!r}.", code="unknown_request")
    await require_user(caller, ledger, tenant, doc["user_id"])
    return request_view(doc)


@operations_router.post("/reallocation-requests/{request_id}/approve", response_model=ReallocationRequestView,
                        summary="Approve: the user may get coins again (with an optional allocation now)")
async def approve_reallocation(request_id: str, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response,
                               body: ReallocationDecisionIn | None = None) -> ReallocationRequestView:
    body = body or ReallocationDecisionIn()
    result = await run(ledger.decide_reallocation(tenant, request_id, approve=True, actor=actor, amount=body.amount,
                                                  reason=body.reason))
    answered(response, result)
    response.status_code = 200
    return request_view(result.doc)


@operations_router.post("/reallocation-requests/{request_id}/reject", response_model=ReallocationRequestView)
async def reject_reallocation(request_id: str, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response,
                              body: ReallocationDecisionIn | None = None) -> ReallocationRequestView:
    body = body or ReallocationDecisionIn()
    if body.amount is not None:
        raise Problem(422, "Invalid amount", "A rejection allocates nothing.", code="invalid_amount")
    result = await run(ledger.decide_reallocation(tenant, request_id, approve=False, actor=actor, reason=body.reason))
    answered(response, result)
    response.status_code = 200
    return request_view(result.doc)


@operations_router.post("/redemptions", response_model=RedemptionView, status_code=201,
                        summary="Convert a seller's earnings in the points mall (100 coins = 1 yuan, whole yuan)")
async def redeem(body: RedemptionIn, tenant: Tenant, ledger: Ledger, actor: Actor,
                 response: Response) -> RedemptionView:
    result = await run(ledger.redeem(tenant, body.id, body.user_id, actor=actor, coins=body.coins, yuan=body.yuan,
                                     item=body.item))
    answered(response, result)
    return redemption_view(result.doc)


@operations_router.post("/blind-boxes", response_model=BlindBoxView, status_code=201,
                        summary="Draw random bonuses from the bonus pool for top contributors (盲盒)")
async def blind_box(body: BlindBoxIn, tenant: Tenant, ledger: Ledger, actor: Actor,
                    response: Response) -> BlindBoxView:
    result = await run(ledger.blind_box(tenant, body.id, actor=actor, min_amount=body.min_amount,
                                        max_amount=body.max_amount, user_ids=body.user_ids, top=body.top,
                                        since=body.since, until=body.until, seed=body.seed))
    answered(response, result)
    return blind_box_view(result.doc)


async def _draw(tenant: str, ledger: LedgerService, draw_id: str) -> Doc:
    doc = await ledger.store.operation(tenant, draw_id)
    if doc is None or doc.get("kind") != "blind_box":
        raise Problem(404, "Unknown draw", f"There is no blind-box draw {draw_id!r}.", code="unknown_draw")
    return doc


@operations_router.get("/blind-boxes/{draw_id}", response_model=BlindBoxView)
async def get_blind_box(draw_id: TransferId, tenant: Tenant, ledger: Ledger) -> BlindBoxView:
    return blind_box_view(await _draw(tenant, ledger, draw_id))


@operations_router.get("/blind-boxes/{draw_id}/replay", response_model=BlindBoxReplay,
                       summary="Recompute a draw from its recorded seed and compare")
async def replay_blind_box(draw_id: TransferId, tenant: Tenant, ledger: Ledger) -> BlindBoxReplay:
    doc = await _draw(tenant, ledger, draw_id)
    replayed = LedgerService.replay_draw(doc)
    recorded = [{"user_id": a["user_id"], "amount": a["amount"]} for a in doc["awards"]]
    return BlindBoxReplay(draw_id=draw_id, seed=doc["seed"], algorithm=doc["algorithm"], matches=recorded == replayed,
                          recorded=doc["awards"], replayed=replayed)


@operations_router.get("/reports/top-sellers", response_model=list[TopSeller],
                       summary="Sellers by coins earned from purchases (blind-box candidates)")
async def top_sellers(tenant: Tenant, ledger: Ledger, since: datetime, until: datetime | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[TopSeller]:
    until = _aware(until, "until") or datetime.now(UTC)
    earned = await ledger.store.earned_by_sellers(tenant, _aware(since, "since") or until, until)
    return [TopSeller(user_id=u, coins=earned[u]) for u in domain.rank_contributors(earned, limit)]


# ---- configuration and audit ----------------------------------------------------------------------------


@admin_router.get("/config/policy", response_model=ConfigView, summary="Revenue share, daily limits, idle days, "
                  "hold timeout")
async def get_policy(tenant: Tenant, ledger: Ledger, response: Response) -> ConfigView:
    value, version = await ledger.store.get_config(tenant, "policy")
    response.headers["ETag"] = f'"{version}"'
    return ConfigView(version=version, value=value if value is not None else LedgerPolicy().model_dump(mode="json"))


@admin_router.put("/config/policy", response_model=ConfigView, summary="Replace the policy")
async def put_policy(request: Request, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response,
                     if_match: IfMatch = None) -> ConfigView:
    try:
        policy = LedgerPolicy.model_validate_json(await request.body())
    except ValidationError as error:
        raise Problem(422, "Invalid configuration", describe_validation_error(error)) from error
    expected = if_match_version(if_match)
    value = policy.model_dump(mode="json")
    version = await ledger.store.put_config(tenant, "policy", value, expected, datetime.now(UTC))
    if version is None:
        raise Problem(412, "Precondition Failed", f"The policy changed since version {expected}; read it again.")
    ledger.forget_policy(tenant)
    response.headers["ETag"] = f'"{version}"'
    return ConfigView(version=version, value=value)


@admin_router.get("/audit", response_model=AuditView,
                  summary="Conservation (balances sum to zero), no forbidden negative balance, journal check")
async def audit(tenant: Tenant, ledger: Ledger, verify: bool = False) -> AuditView:
    """With `verify=true` every balance is also recomputed from the transfers (reads every transfer of the
    tenant: for audits, not for monitoring every second)."""
    return AuditView.model_validate(await ledger.audit(tenant, verify=verify))

