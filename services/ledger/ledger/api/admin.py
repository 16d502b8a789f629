"""The tenant's policy (revenue share, daily limits, idle days, hold timeout) and the audit of its books."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from telesales_runtime.consumer import describe_validation_error
from telesales_runtime.http import IfMatch, Problem, Tenant, if_match_version

from ..domain import LedgerPolicy
from ..schemas import AuditView, ConfigView
from .common import Actor, Ledger, Queries

admin_router = APIRouter(prefix="/v1", tags=["configuration and audit"])


@admin_router.get("/config/policy", response_model=ConfigView, summary="Revenue share, daily limits, idle days, "
                  "hold timeout")
async def get_policy(tenant: Tenant, queries: Queries, response: Response) -> ConfigView:
    value, version = await queries.policy(tenant=tenant)
    response.headers["ETag"] = f'"{version}"'
    return ConfigView(version=version, value=value)


@admin_router.put("/config/policy", response_model=ConfigView, summary="Replace the policy")
async def put_policy(request: Request, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response,
                     if_match: IfMatch = None) -> ConfigView:
    try:
        policy = LedgerPolicy.model_validate_json(await request.body())
    except ValidationError as error:
        raise Problem(422, "Invalid configuration", describe_validation_error(error)) from error
    expected = if_match_version(if_match)
    value = policy.model_dump(mode="json")
    version = await ledger.replace_policy(tenant=tenant, value=value, expected_version=expected)
    if version is None:
        raise Problem(412, "Precondition Failed", f"The policy changed since version {expected}; read it again.")
    response.headers["ETag"] = f'"{version}"'
    return ConfigView(version=version, value=value)


@admin_router.get("/audit", response_model=AuditView,
                  summary="Conservation (balances sum to zero), no forbidden negative balance, journal check")
async def audit(tenant: Tenant, ledger: Ledger, verify: bool = False) -> AuditView:
    """With `verify=true` every balance is also recomputed from the transfers (reads every transfer of the
    tenant: for audits, not for monitoring every second)."""
    return AuditView.model_validate(await ledger.audit(tenant=tenant, verify=verify))
