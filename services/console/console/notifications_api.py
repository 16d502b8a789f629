"""HTTP routes of the live channel: the SSE stream, the list, and marking read. A user only ever sees
their own notifications, in their token's tenant (a session's principal or a bearer token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from telesales_runtime.auth import Caller, tenant_of
from telesales_runtime.http import coded_problem

from .feed import NotificationFeed
from .live import LiveHub
from .notifications import NotificationPage, parse_last_event_id

notifications_router = APIRouter(tags=["notifications"])

# The tenant worked in: the token's (X-Tenant-Id naming another is refused, 403 tenant_mismatch, except for
# admin and service tokens, who then read their own notifications in that tenant).
Tenant = Annotated[str, Depends(tenant_of)]

PEOPLE = ("agent", "supervisor", "operator")
ACCESS: dict[str, tuple[str, ...]] = {
    "GET /v1/notifications/stream": PEOPLE,
    "GET /v1/notifications": PEOPLE,
    "POST /v1/notifications/{seq}/read": PEOPLE,
    "POST /v1/notifications:read-all": PEOPLE,
}

# app.state names the wiring sets.
FEED_STATE = "notification_feed"
HUB_STATE = "live_hub"


def _feed(request: Request) -> NotificationFeed:
    return getattr(request.app.state, FEED_STATE)


def _hub(request: Request) -> LiveHub:
    return getattr(request.app.state, HUB_STATE)


@notifications_router.get(
    "/v1/notifications/stream", response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events: `id: <seq>`, "
                     "`event: notification`, `data: <Notification JSON>`; a comment line as heartbeat."}})
async def notification_stream(
    request: Request, caller: Caller, tenant: Tenant,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[str | None, Query(description="For clients that cannot set Last-Event-ID.")] = None,
) -> StreamingResponse:
    """The caller's notifications as they are committed; with Last-Event-ID, what came after it first."""
    after = parse_last_event_id(last_event_id_header if last_event_id_header is not None else last_event_id)
    body = _hub(request).stream(tenant, caller.sub, after)
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@notifications_router.get("/v1/notifications", response_model=NotificationPage)
async def list_notifications(
    request: Request, caller: Caller, tenant: Tenant,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, description="Only notifications with a smaller seq.")] = None,
    unread: Annotated[bool, Query(description="Only unread ones.")] = False,
) -> NotificationPage:
    return await _feed(request).page(tenant=tenant, user=caller.sub, limit=limit, before=before,
                                     unread_only=unread)


@notifications_router.post("/v1/notifications/{seq}/read", status_code=204)
async def mark_read(request: Request, caller: Caller, tenant: Tenant, seq: int) -> None:
    if seq < 1 or not await _feed(request).mark_read(tenant=tenant, user=caller.sub, seq=seq):
        raise coded_problem(404, "notification_not_found", f"You have no notification {seq}.")


@notifications_router.post("/v1/notifications:read-all")
async def mark_all_read(request: Request, caller: Caller, tenant: Tenant) -> dict[str, int]:
    return {"marked": await _feed(request).mark_all_read(tenant=tenant, user=caller.sub)}
