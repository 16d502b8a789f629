"""`GET /v1/access-log`, the same on every service that keeps an access log (telesales_runtime.access_log):
who saw which lead's number in full, by user, lead and period, newest first, paged. Read only: no route
changes the log. Who may read it is the service's ACCESS table (operators and auditors)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from .access_log import MASKED_REASON_HEADER, AccessLog
from .http import Problem, Tenant

ACCESS_LOG_PATH = "/v1/access-log"
# OpenAPI of a route whose answer may show leads in full: the header that says why they are masked instead.
MASKED_REASON_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"headers": {MASKED_REASON_HEADER: {
    "description": "Set when leads the caller may see in full are masked: `unmask_budget_exceeded` (past the "
    "caller's hourly budget of full numbers) or `unmask_budget_unavailable` (the budget could not be checked: "
    "it fails closed). Each such lead view says the same in `masked_reason`.",
    "schema": {"type": "string", "enum": ["unmask_budget_exceeded", "unmask_budget_unavailable"]}}}}}


class AccessRecordView(BaseModel):
    at: datetime
    user: str = Field(description="Who saw the data (the token's sub).")
    roles: list[str]
    team: str | None
    method: str
    route: str = Field(description="The route template the answer came from, e.g. /v1/leads/{lead_id}.")
    lead_ids: list[str] = Field(description="Every lead the answer showed in full (one record per answer).")
    reason: str = Field(description="Why in full: holder (its own lead), supervisor, operator, service, admin.")


class AccessLogPage(BaseModel):
    items: list[AccessRecordView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: no more.")


def access_log_router(access_log_of: Callable[[Request], AccessLog], *, tags: list[str] | None = None) -> APIRouter:
    """The read route over the access log `access_log_of(request)` gives (the service's store's)."""
    router = APIRouter(prefix="/v1", tags=tags or ["access log"])

    @router.get("/access-log", response_model=AccessLogPage,
                summary="Who saw which number in full: by user, lead and period, newest first (read only)")
    async def read_access_log(request: Request, tenant: Tenant, user: str | None = None,
                              lead_id: str | None = None, since: AwareDatetime | None = None,
                              until: AwareDatetime | None = None,
                              limit: Annotated[int, Query(ge=1, le=500)] = 100,
                              cursor: str | None = None) -> AccessLogPage:
        if since is not None and until is not None and since >= until:
            raise Problem(400, "Bad period", "`since` must be before `until`.")
        try:
            docs, after = await access_log_of(request).page(tenant, limit=limit, cursor=cursor, user=user,
                                                            lead_id=lead_id, since=since, until=until)
        except ValueError as error:
            raise Problem(400, "Bad cursor", "Use the next_cursor of the previous page.") from error
        return AccessLogPage(items=[AccessRecordView.model_validate(d) for d in docs], next_cursor=after)

    return router

