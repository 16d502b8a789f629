"""MongoDB persistence of the console (the only module that speaks MongoDB).

- `sessions`: one document per browser session, keyed by the SHA-256 of its cookie's id: who signed in,
  the token sent to the services (and the OIDC refresh token), the CSRF token, and `ends_at` (its expiry
  or its idle end, whichever comes first: a TTL index removes it then).
- `sign_ins`: OpenID Connect sign-ins under way (state -> PKCE verifier, nonce, where to return), taken
  once, removed by a TTL index when they do not come back.
- `logged_calls`: the calls.logged.v1 events the broker confirmed (by event id), so a retried call is
  not published again.
- `notifications` and `notification_counters`: each user's notifications and sequence counter (see
  NotificationStore).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from telesales_runtime.mongo import ensure_collections, in_transaction

from .notifications import Draft, Notification

Doc = dict[str, Any]


class SessionStore:
    """Browser sessions, sign-ins under way and logged calls."""

    def __init__(self, client: AsyncMongoClient[Doc], database: str) -> None:
        self.client = client
        self.db = client[database]
        self.sessions = self.db["sessions"]
        self.sign_ins = self.db["sign_ins"]
        self.logged_calls = self.db["logged_calls"]

    async def ensure_indexes(self) -> None:
        await self.sessions.create_indexes([
            IndexModel("ends_at", name="ttl_ends_at", expireAfterSeconds=0),
            IndexModel([("tenant", 1), ("sub", 1)], name="by_user"),
        ])
        await self.sign_ins.create_index("expires_at", name="ttl_expires_at", expireAfterSeconds=0)
        await self.logged_calls.create_index("logged_at", name="ttl_logged_at", expireAfterSeconds=7 * 24 * 3600)

    # ---- sessions (`key`: domain.session_key of the cookie's id) ----

    async def create_session(self, key: str, doc: Doc) -> None:
        await self.sessions.insert_one({"_id": key, **doc})

    async def session(self, key: str, now: datetime) -> Doc | None:
        """The session, unless it ended (the TTL monitor runs only once a minute)."""
        return await self.sessions.find_one({"_id": key, "ends_at": {"$gt": now}})

    async def touch_session(self, key: str, *, last_used_at: datetime, ends_at: datetime) -> None:
        await self.sessions.update_one({"_id": key}, {"$set": {"last_used_at": last_used_at, "ends_at": ends_at}})

    async def replace_token(self, key: str, *, token: str, token_expires_at: datetime | None,
                            refresh_token: str | None, expected_token: str) -> Doc | None:
        """Store a refreshed token unless another request refreshed it meanwhile; the session as it is now."""
        await self.sessions.update_one(
            {"_id": key, "token": expected_token},
            {"$set": {"token": token, "token_expires_at": token_expires_at, "refresh_token": refresh_token}})
        return await self.sessions.find_one({"_id": key})

    async def end_session(self, key: str) -> None:
        await self.sessions.delete_one({"_id": key})

    # ---- sign-ins under way ----

    async def begin_sign_in(self, state: str, doc: Doc) -> None:
        await self.sign_ins.insert_one({"_id": state, **doc})

    async def take_sign_in(self, state: str, now: datetime) -> Doc | None:
        """The sign-in started with `state`, once (a replayed callback finds nothing)."""
        return await self.sign_ins.find_one_and_delete({"_id": state, "expires_at": {"$gt": now}})

    # ---- logged calls ----

    async def call_logged(self, event_id: str) -> bool:
        return await self.logged_calls.find_one({"_id": event_id}, {"_id": 1}) is not None

    async def mark_call_logged(self, event_id: str, *, tenant: str, agent_id: str, call_id: str,
                               logged_at: datetime) -> None:
        try:
            await self.logged_calls.insert_one({"_id": event_id, "tenant": tenant, "agent_id": agent_id,
                                                "call_id": call_id, "logged_at": logged_at})
        except DuplicateKeyError:  # a concurrent retry confirmed it too
            pass


def _counter_id(tenant: str, user: str) -> str:
    return f"{tenant}|{user}"  # a tenant id has no "|": unique for every user name


class NotificationStore:
    """Notifications per user (collection `notifications`) and each user's sequence counter
    (`notification_counters`). A notification's `_id` is derived from (tenant, user, source event id, part),
    so a redelivered event is recognised and never stored twice; `seq` comes from the user's counter in the
    same transaction as the insert, so seq order is commit order."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str, *, retention_days: int) -> None:
        self.client = client
        self.db = client[database]
        self.notifications = self.db["notifications"]
        self.counters = self.db["notification_counters"]
        self.retention = timedelta(days=retention_days)

    async def ensure_indexes(self) -> None:
        await ensure_collections(self.db, ["notifications", "notification_counters"])
        await self.notifications.create_index([("tenant", ASCENDING), ("user", ASCENDING), ("seq", DESCENDING)],
                                              unique=True, name="user_seq")
        await self.notifications.create_index([("tenant", ASCENDING), ("user", ASCENDING), ("seq", ASCENDING)],
                                              partialFilterExpression={"read": False}, name="user_unread")
        # Each document carries its own end of life, so changing the retention needs no index rebuild.
        await self.notifications.create_index("expires_at", expireAfterSeconds=0, name="retention")

    async def add(self, drafts: Sequence[Draft]) -> list[tuple[str, str, Notification]]:
        """Store the drafts not stored before, each user's with the next seqs of that user's counter; the new
        notifications as (tenant, user, notification), in seq order per user."""
        unique = list({d.id: d for d in drafts}.values())
        if not unique:
            return []
        known = {doc["_id"] async for doc in self.notifications.find({"_id": {"$in": [d.id for d in unique]}},
                                                                     {"_id": 1}, batch_size=len(unique) + 1)}
        fresh = [d for d in unique if d.id not in known]
        if not fresh:
            return []
        by_user: dict[tuple[str, str], list[Draft]] = {}
        for draft in fresh:
            by_user.setdefault((draft.tenant, draft.user), []).append(draft)
        now = datetime.now(UTC)

        async def write(session: AsyncClientSession) -> list[dict[str, Any]]:
            # Every user's counter moved in one bulk write, then read back in the same transaction (which holds
            # them until it commits: a concurrent add conflicts and is retried), not a round trip per user.
            ids = {_counter_id(tenant, user): len(items) for (tenant, user), items in by_user.items()}
            await self.counters.bulk_write([UpdateOne({"_id": key}, {"$inc": {"seq": n}}, upsert=True)
                                            for key, n in ids.items()], ordered=False, session=session)
            seqs = {doc["_id"]: doc["seq"] async for doc in self.counters.find(
                {"_id": {"$in": list(ids)}}, {"seq": 1}, session=session, batch_size=len(ids) + 1)}
            docs: list[dict[str, Any]] = []
            for (tenant, user), items in by_user.items():
                first = seqs[_counter_id(tenant, user)] - len(items) + 1
                docs.extend(self._document(draft, first + i, now) for i, draft in enumerate(items))
            await self.notifications.insert_many(docs, ordered=False, session=session)
            return docs

        written = await in_transaction(self.client, write)
        return [(doc["tenant"], doc["user"], _notification(doc)) for doc in written]

    def _document(self, draft: Draft, seq: int, now: datetime) -> dict[str, Any]:
        return {"_id": draft.id, "tenant": draft.tenant, "user": draft.user, "seq": seq, "event_id": draft.event_id,
                "part": draft.part, "kind": draft.kind.value, "subject": draft.subject, "link": draft.link,
                "at": draft.at, "read": False, "created_at": now, "expires_at": now + self.retention}

    async def last_seq(self, tenant: str, user: str) -> int:
        """The seq of the user's last committed notification (0: none yet)."""
        counter = await self.counters.find_one({"_id": _counter_id(tenant, user)})
        return 0 if counter is None else int(counter["seq"])

    async def after(self, tenant: str, user: str, seq: int, limit: int = 500) -> list[Notification]:
        """The user's notifications after `seq`, oldest first."""
        found = self.notifications.find({"tenant": tenant, "user": user, "seq": {"$gt": seq}}).sort("seq", 1)
        return [_notification(doc) async for doc in found.limit(limit)]

    async def page(self, tenant: str, user: str, *, limit: int, before: int | None,
                   unread_only: bool) -> tuple[list[Notification], int]:
        """A page of the user's notifications, newest first, and how many are unread in all."""
        query: dict[str, Any] = {"tenant": tenant, "user": user}
        if before is not None:
            query["seq"] = {"$lt": before}
        if unread_only:
            query["read"] = False
        found = self.notifications.find(query).sort("seq", -1).limit(limit)
        items = [_notification(doc) async for doc in found]
        unread = await self.notifications.count_documents({"tenant": tenant, "user": user, "read": False})
        return items, unread

    async def mark_read(self, tenant: str, user: str, seq: int) -> bool:
        """False: the user has no notification `seq`."""
        result = await self.notifications.update_one({"tenant": tenant, "user": user, "seq": seq},
                                                     {"$set": {"read": True}})
        return result.matched_count == 1

    async def mark_all_read(self, tenant: str, user: str) -> int:
        result = await self.notifications.update_many({"tenant": tenant, "user": user, "read": False},
                                                      {"$set": {"read": True}})
        return result.modified_count


def _notification(doc: dict[str, Any]) -> Notification:
    return Notification(seq=doc["seq"], id=doc["_id"], kind=doc["kind"], subject=doc["subject"], link=doc["link"],
                        at=doc["at"], read=doc["read"])
