"""HTTP API of lead-intake's per-tenant settings beyond scoring: the consent policy (/v1/config/consent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from telesales_runtime.http import Problem, Tenant, from_app_state

from .domain import ConsentPolicy
from .schemas import ConsentPolicyView
from .service import IntakeService

config_router = APIRouter(prefix="/v1/config", tags=["config"])
Intake = Annotated[IntakeService, Depends(from_app_state("intake"))]
IfMatch = Annotated[str | None, Header(description="Version from GET, e.g. \"3\": change only if nobody did since.")]

ACCESS = {
    "GET /v1/config/consent": ("supervisor", "operator"),
    "PUT /v1/config/consent": ("operator",),
}


def _expected(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError as error:
        raise Problem(400, "Invalid If-Match", "If-Match must be the version number from GET.") from error


@config_router.get("/consent", response_model=ConsentPolicyView, summary="The tenant's consent policy")
async def get_consent_policy(tenant: Tenant, request: Request, response: Response) -> ConsentPolicyView:
    policy, version = await request.app.state.store.get_consent_policy(tenant)
    response.headers["ETag"] = f'"{version}"'
    return ConsentPolicyView(version=version, **policy.model_dump())


@config_router.put("/consent", response_model=ConsentPolicyView,
                   summary="Replace the consent policy (leads qualified from now on follow it)")
async def put_consent_policy(policy: ConsentPolicy, tenant: Tenant, intake: Intake, response: Response,
                             if_match: IfMatch = None) -> ConsentPolicyView:
    expected = _expected(if_match)
    version = await intake.replace_consent_policy(tenant=tenant, policy=policy, expected_version=expected)
    if version is None:
        raise Problem(412, "Policy changed meanwhile",
                      f"The consent policy is no longer at version {expected}; read it again and retry.")
    response.headers["ETag"] = f'"{version}"'
    return ConsentPolicyView(version=version, **policy.model_dump())
