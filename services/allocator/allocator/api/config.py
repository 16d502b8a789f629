"""Routes of the per-tenant configuration: allocation policy, tiers, routing rules and grading policy,
each versioned (ETag / If-Match)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter, ValidationError

from telesales_runtime.consumer import describe_validation_error
from telesales_runtime.http import IfMatch, Problem, Tenant, if_match_version

from ..domain import AllocationPolicy, RoutingRule, Tier
from ..grading import GradingPolicy
from ..queries import dumped
from ..schemas import ConfigView
from .access import Leads, Queries

config_router = APIRouter(prefix="/v1/config", tags=["configuration"])

_CONFIG: dict[str, tuple[Any, Any]] = {
    # kind: (validator of the stored value, default when none is stored)
    "policy": (TypeAdapter(AllocationPolicy), lambda: AllocationPolicy()),
    "tiers": (TypeAdapter(list[Tier]), None),
    "routing": (TypeAdapter(list[RoutingRule]), lambda: []),
    "grading": (TypeAdapter(GradingPolicy), lambda: GradingPolicy()),
}


@config_router.get("/{kind}", response_model=ConfigView, summary="Read policy, tiers, routing or grading")
async def get_config(kind: str, tenant: Tenant, queries: Queries, response: Response) -> ConfigView:
    if kind not in _CONFIG:
        raise Problem(404, "Unknown configuration", f"Configurations: {', '.join(_CONFIG)}.")
    value, version = await queries.config(tenant=tenant, kind=kind, default=_CONFIG[kind][1])
    response.headers["ETag"] = f'"{version}"'
    return ConfigView(version=version, value=value)


@config_router.put("/{kind}", response_model=ConfigView, summary="Replace policy, tiers, routing or grading")
async def put_config(kind: str, request: Request, tenant: Tenant, leads: Leads, response: Response,
                     if_match: IfMatch = None) -> ConfigView:
    if kind not in _CONFIG:
        raise Problem(404, "Unknown configuration", f"Configurations: {', '.join(_CONFIG)}.")
    try:
        value = _CONFIG[kind][0].validate_json(await request.body())
    except ValidationError as error:
        raise Problem(422, "Invalid configuration", describe_validation_error(error)) from error
    if kind == "tiers":
        ids = [t.tier_id for t in value]
        if len(set(ids)) != len(ids):
            raise Problem(422, "Invalid configuration", "tier ids must be unique")
    if kind == "policy" and value.number_privacy != "none" and not leads.privacy.configured(value.number_privacy):
        raise Problem(422, "Invalid configuration", f"number_privacy {value.number_privacy!r}: this deployment "
                      "has no such provider configured (ALLOCATOR_PRIVACY_* settings)",
                      code="privacy_provider_not_configured")
    expected = if_match_version(if_match)
    version = await leads.put_config(tenant=tenant, kind=kind, value=dumped(value), expected_version=expected)
    if version is None:
        raise Problem(412, "Precondition Failed", f"The {kind} changed since version {expected}; read it again.")
    response.headers["ETag"] = f'"{version}"'
    return ConfigView(version=version, value=dumped(value))
