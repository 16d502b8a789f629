"""Routes of operations: a reclaim sweep or a week's grading run by hand, and the fairness report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter

from telesales_runtime.http import Problem, Tenant

from ..domain import DomainError
from ..schemas import FairnessReport, GradingResult, SweepResult
from .access import Leads, Queries, Roster, problem_of

ops_router = APIRouter(prefix="/v1", tags=["operations"])

@ops_router.post("/reclaim-sweeps", response_model=SweepResult, summary="Run a reclaim sweep of this tenant now")
async def run_sweep(tenant: Tenant, leads: Leads) -> SweepResult:
    return SweepResult.model_validate(await leads.sweep_tenant(tenant))


@ops_router.post("/gradings/{week}", response_model=GradingResult, summary="Grade a finished ISO week (e.g. 2026-W47)")
async def grade_week(week: str, tenant: Tenant, roster: Roster) -> GradingResult:
    try:
        return GradingResult.model_validate(await roster.grade(tenant=tenant, week=week))
    except DomainError as error:
        raise problem_of(error) from error
    except ValueError as error:  # a malformed or impossible ISO week
        raise Problem(422, "Invalid week", str(error)) from error


@ops_router.get("/reports/fairness", response_model=FairnessReport,
                summary="Leads received, mean score and conversions per agent grade")
async def fairness(tenant: Tenant, queries: Queries, since: datetime | None = None,
                   until: datetime | None = None) -> FairnessReport:
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=7)
    for value, name in ((since, "since"), (until, "until")):
        if value.tzinfo is None:
            raise Problem(422, "Invalid time", f"{name} needs a time zone offset, e.g. 2026-11-24T00:00:00+08:00")
    if since >= until:
        raise Problem(422, "Invalid range", "since must be before until")
    rows = await queries.fairness(tenant=tenant, since=since, until=until)
    return FairnessReport(since=since, until=until, rows=rows)
