"""The store's vocabulary: a stored document, a session, and how `_id`s are made (each starts with the
tenant)."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

Doc = dict[str, Any]
Session = AsyncClientSession


def scoped(tenant: str, key: str) -> str:
    return f"{tenant}|{key}"


def version_key(tenant: str, tip_id: str, version: int) -> str:
    return scoped(tenant, f"{tip_id}#{version}")
