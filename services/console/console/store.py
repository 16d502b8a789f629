"""MongoDB persistence of the console (the only module that speaks MongoDB).

- `sessions`: one document per browser session, keyed by the SHA-256 of its cookie's id: who signed in,
  the token sent to the services (and the OIDC refresh token), the CSRF token, and `ends_at` (its expiry
  or its idle end, whichever comes first: a TTL index removes it then).
- `sign_ins`: OpenID Connect sign-ins under way (state -> PKCE verifier, nonce, where to return), taken
  once, removed by a TTL index when they do not come back.
- `logged_calls`: the calls.logged.v1 events the broker confirmed (by event id), so a retried call is
  not published again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.errors import DuplicateKeyError

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
