"""The reads the HTTP API serves (accounts, statements, transfers, operations, requests, reports, the
policy), apart from the writes: each returns what the store holds, pages cut to their limit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from . import domain
from .domain import LedgerPolicy, earnings, wallet
from .store import Doc, LedgerStore


class LedgerQueries:
    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    async def accounts_page(self, *, tenant: str, kind: str | None, limit: int,
                            after: str | None) -> tuple[list[Doc], str | None]:
        """Accounts by kind and key after `after`, and the cursor of the next page (None on the last)."""
        docs = await self.store.list_accounts(tenant, kind=kind, limit=limit + 1, after=after)
        more = len(docs) > limit
        docs = docs[:limit]
        return docs, docs[-1]["key"] if more else None

    async def account(self, *, tenant: str, key: str) -> Doc | None:
        return await self.store.account(tenant, key)

    async def balance(self, *, tenant: str, key: str) -> int:
        return int((await self.store.account(tenant, key) or {}).get("balance", 0))

    async def statement(self, *, tenant: str, key: str, since: datetime | None, until: datetime | None,
                        kinds: Sequence[str], limit: int, after: tuple[datetime, str] | None) -> tuple[list[Doc], bool]:
        """An account's transfers, oldest first, after the keyset cursor `after`; and whether more follow."""
        docs = await self.store.statement(tenant, key, since=since, until=until, kinds=kinds, limit=limit + 1,
                                          after=after)
        return docs[:limit], len(docs) > limit

    async def statement_chunk(self, *, tenant: str, key: str, since: datetime | None, until: datetime | None,
                              kinds: Sequence[str], limit: int, after: tuple[datetime, str] | None) -> list[Doc]:
        return await self.store.statement(tenant, key, since=since, until=until, kinds=kinds, limit=limit,
                                          after=after)

    async def user(self, *, tenant: str, user_id: str) -> Doc | None:
        return await self.store.user(tenant, user_id)

    async def user_with_accounts(self, *, tenant: str, user_id: str) -> tuple[Doc, Doc, Doc]:
        """A user's roster record, wallet and earnings (each {} when there is none)."""
        doc = await self.store.user(tenant, user_id) or {}
        spend = await self.store.account(tenant, wallet(user_id)) or {}
        earned = await self.store.account(tenant, earnings(user_id)) or {}
        return doc, spend, earned

    async def transfer(self, *, tenant: str, transfer_id: str) -> Doc | None:
        return await self.store.transfer(tenant, transfer_id)

    async def operation(self, *, tenant: str, op_id: str, kind: str) -> Doc | None:
        """An allocation or a blind-box draw (None when the id holds none, or another kind)."""
        doc = await self.store.operation(tenant, op_id)
        return doc if doc is not None and doc.get("kind") == kind else None

    async def reallocation_requests(self, *, tenant: str, status: str | None, limit: int,
                                    user_ids: frozenset[str] | None = None) -> list[Doc]:
        """The newest requests (with `user_ids`, those of these users)."""
        return await self.store.list_requests(tenant, status, limit, user_ids)

    async def users_of_teams(self, *, tenant: str, teams: frozenset[str]) -> set[str]:
        """The users the roster puts in these teams."""
        return await self.store.user_ids_of_teams(tenant, teams)

    async def reallocation_request(self, *, tenant: str, request_id: str) -> Doc | None:
        return await self.store.reallocation_request(tenant, request_id)

    async def top_sellers(self, *, tenant: str, since: datetime, until: datetime, limit: int) -> list[tuple[str, int]]:
        """Sellers by coins earned from purchases in [since, until), most first."""
        earned = await self.store.earned_by_sellers(tenant, since, until)
        return [(user, earned[user]) for user in domain.rank_contributors(earned, limit)]

    async def policy(self, *, tenant: str) -> tuple[Any, int]:
        """The stored policy (the defaults when none is stored) and its version."""
        value, version = await self.store.get_config(tenant, "policy")
        return (value if value is not None else LedgerPolicy().model_dump(mode="json")), version
