"""Accounts, statements (JSON pages and CSV for finance) and users' balances."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from telesales_contracts.roster import Identifier
from telesales_runtime.http import Tenant

from .. import domain
from ..schemas import AccountPage, AccountPatch, AccountView, StatementLine, StatementPage, UserView
from .common import (
    Actor,
    CallerScope,
    Ledger,
    Queries,
    Settings,
    account_key,
    aware,
    require_account,
    require_user,
    run,
)
from .views import account_view, decode_cursor, encode_cursor, statement_line

accounts_router = APIRouter(prefix="/v1", tags=["accounts and statements"])


@accounts_router.get("/accounts", response_model=AccountPage, summary="Accounts of the tenant, by kind")
async def list_accounts(tenant: Tenant, queries: Queries, kind: domain.AccountKind | None = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None) -> AccountPage:
    docs, next_cursor = await queries.accounts_page(tenant=tenant, kind=kind.value if kind else None, limit=limit,
                                                    after=cursor)
    return AccountPage(items=[account_view(d["key"], d) for d in docs], next_cursor=next_cursor)


@accounts_router.get("/accounts/{account}", response_model=AccountView, summary="An account and its balance")
async def get_account(account: str, tenant: Tenant, queries: Queries, scope: CallerScope) -> AccountView:
    key = account_key(account)
    await require_account(scope, queries, tenant, key)
    return account_view(key, await queries.account(tenant=tenant, key=key))


@accounts_router.patch("/accounts/{account}", response_model=AccountView,
                       summary="Allow (or forbid) an account to go below zero")
async def patch_account(account: str, body: AccountPatch, tenant: Tenant, ledger: Ledger, actor: Actor) -> AccountView:
    key = account_key(account)
    doc = await run(ledger.set_allow_negative(tenant=tenant, key=key, allow=body.allow_negative))
    return account_view(key, doc)


@accounts_router.get("/accounts/{account}/statement", response_model=StatementPage,
                     summary="An account's transfers, oldest first, by time and kind")
async def statement(account: str, tenant: Tenant, queries: Queries, scope: CallerScope, since: datetime | None = None,
                    until: datetime | None = None, kind: Annotated[list[str] | None, Query()] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None) -> StatementPage:
    key = account_key(account)
    await require_account(scope, queries, tenant, key)
    docs, more = await queries.statement(tenant=tenant, key=key, since=aware(since, "since"),
                                         until=aware(until, "until"), kinds=kind or [], limit=limit,
                                         after=decode_cursor(cursor) if cursor else None)
    return StatementPage(account=key, balance=await queries.balance(tenant=tenant, key=key),
                         items=[StatementLine.model_validate(statement_line(d, key)) for d in docs],
                         next_cursor=encode_cursor(docs[-1]) if more else None)


CSV_COLUMNS = ["at", "transfer_id", "kind", "state", "direction", "amount", "signed_amount", "counterparty",
               "linked_group", "hold_id", "reference", "note", "by"]


@accounts_router.get("/accounts/{account}/statement.csv", summary="An account's statement as CSV, for finance",
                     response_class=StreamingResponse,
                     responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def statement_csv(account: str, tenant: Tenant, queries: Queries, settings: Settings, scope: CallerScope,
                        since: datetime | None = None, until: datetime | None = None,
                        kind: Annotated[list[str] | None, Query()] = None) -> StreamingResponse:
    """UTF-8 with a byte-order mark (Excel opens it as UTF-8), one line per transfer, oldest first."""
    key = account_key(account)
    await require_account(scope, queries, tenant, key)
    since, until = aware(since, "since"), aware(until, "until")

    async def rows() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        yield ("\ufeff" + buffer.getvalue()).encode()
        after, sent = None, 0
        while sent < settings.statement_csv_max_rows:
            page = await queries.statement_chunk(tenant=tenant, key=key, since=since, until=until, kinds=kind or [],
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
async def get_user(user_id: Identifier, tenant: Tenant, queries: Queries, scope: CallerScope) -> UserView:
    await require_user(scope, queries, tenant, user_id)
    doc, spend, earned = await queries.user_with_accounts(tenant=tenant, user_id=user_id)
    return UserView(user_id=user_id, name=doc.get("name"), role=doc.get("role"), grade=doc.get("grade"),
                    team_id=doc.get("team_id"), business_line=doc.get("business_line"), active=doc.get("active"),
                    on_roster=bool(doc), wallet=int(spend.get("balance", 0)), earnings=int(earned.get("balance", 0)),
                    allocation_blocked=bool(spend.get("allocation_blocked")))
