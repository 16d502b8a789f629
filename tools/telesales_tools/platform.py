"""Where the platform answers and how to talk to it: addresses from the same environment variables the
local stack uses (`deploy/local/stack.py env`), HTTP calls that turn problem+json answers into one clear
error, and a Kafka publisher of CloudEvents as an outside system sends them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from telesales_contracts import BY_NAME, CLOUDEVENTS_CONTENT_TYPE
from telesales_contracts.envelope import is_tenant_id

SERVICES: dict[str, tuple[str, int]] = {  # name -> (port variable, default port), as in deploy/local/stack.py
    "lead-intake": ("TELESALES_LEAD_INTAKE_PORT", 8101),
    "allocator": ("TELESALES_ALLOCATOR_PORT", 8102),
    "ledger": ("TELESALES_LEDGER_PORT", 8103),
    "marketplace": ("TELESALES_MARKETPLACE_PORT", 8104),
    "metrics": ("TELESALES_METRICS_PORT", 8105),
}
START_HINT = "is the platform running? start it with `make up` first"


class PlatformError(Exception):
    """Something the platform answered or failed to answer, said in one line for a person."""


class ServiceError(PlatformError):
    """A service refused a request: its problem+json (status, title, detail, code) when it sent one."""

    def __init__(self, service: str, method: str, path: str, status: int, body: Any) -> None:
        self.service, self.status, self.body = service, status, body
        problem = body if isinstance(body, dict) else {}
        self.code = problem.get("code")
        what = problem.get("detail") or problem.get("title") or (body if isinstance(body, str) else "")
        code = f" [{self.code}]" if self.code else ""
        super().__init__(f"{service}: {method} {path} -> {status}{code}: {str(what)[:500]}")


def _url(name: str, env: Mapping[str, str]) -> str:
    explicit = env.get(f"TELESALES_{name.upper().replace('-', '_')}_URL", "").strip()
    if explicit:
        return explicit.rstrip("/")
    port_env, default = SERVICES[name]
    return f"http://127.0.0.1:{env.get(port_env, '').strip() or default}"


@dataclass(frozen=True)
class Endpoints:
    """The broker and each service's base URL. From the environment: TELESALES_KAFKA_BOOTSTRAP, and per
    service TELESALES_<NAME>_URL or, like the local stack, TELESALES_<NAME>_PORT on 127.0.0.1."""

    kafka_bootstrap: str
    urls: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: str | None) -> Endpoints:
        env = os.environ if env is None else env
        urls = {name: _url(name, env) for name in SERVICES}
        urls.update({name.replace("_", "-"): url.rstrip("/") for name, url in overrides.items()
                     if url and name != "kafka_bootstrap"})
        bootstrap = overrides.get("kafka_bootstrap") or env.get("TELESALES_KAFKA_BOOTSTRAP", "").strip()
        return cls(kafka_bootstrap=bootstrap or "127.0.0.1:19092", urls=urls)

    def url(self, service: str) -> str:
        return self.urls[service]


def check_tenant(tenant: str) -> str:
    if not is_tenant_id(tenant):
        raise PlatformError(f"tenant {tenant!r} is not a tenant id: lowercase letters, digits and dashes, "
                            "at most 63, starting with a letter or digit")
    return tenant


# The local stack's token settings (the services' defaults, telesales_runtime.auth; the tools use the
# platform through its public interfaces only, so they sign HS256 tokens themselves: tests/test_tsctl.py
# checks that the services accept them).
LOCAL_HS256_SECRET = "telesales-local-development-secret-not-for-production"
LOCAL_ISSUER = "telesales-local"
LOCAL_AUDIENCE = "telesales"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def mint_token(sub: str, role: str, *, tenant: str, team: str | None, ttl_seconds: int, secret: str, issuer: str,
               audience: str) -> str:
    """An HS256 JWT (RFC 7519) with the claims the services read: iss, aud, sub, iat, exp, roles, tenant, team."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "sub": sub, "iat": now, "exp": now + ttl_seconds,
                              "roles": [role], "tenant": tenant}
    if team is not None:
        claims["team"] = team
    signing_input = ".".join(_b64(json.dumps(part, separators=(",", ":")).encode())
                             for part in ({"alg": "HS256", "typ": "JWT"}, claims))
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def token(tenant: str, actor: str | None = None, role: str | None = None, team: str | None = None,
          env: Mapping[str, str] | None = None, *, fresh: bool = False) -> str:
    """The bearer token of a call: TELESALES_TOKEN when set (every call then acts as that token says), else
    one signed with the services' HS256 secret (TELESALES_AUTH_HS256_SECRET, else the local development
    secret the local stack runs with) for `actor` in `role` (an actor without a role acts as an agent; no
    actor: the tools act as `tsctl` with the admin role)."""
    env = os.environ if env is None else env
    fixed = env.get("TELESALES_TOKEN", "").strip()
    if fixed and not fresh:
        return fixed
    role = role or ("agent" if actor else "admin")
    key = (tenant, actor or "tsctl", role, team)
    cached = _TOKENS.get(key)
    if cached is not None and cached[1] > time.time() + 300:
        return cached[0]
    minted = mint_token(actor or "tsctl", role, tenant=tenant, team=team, ttl_seconds=TOKEN_TTL,
                        secret=env.get("TELESALES_AUTH_HS256_SECRET") or LOCAL_HS256_SECRET,
                        issuer=env.get("TELESALES_AUTH_ISSUER") or LOCAL_ISSUER,
                        audience=env.get("TELESALES_AUTH_AUDIENCE") or LOCAL_AUDIENCE)
    _TOKENS[key] = (minted, time.time() + TOKEN_TTL)
    return minted


TOKEN_TTL = 4 * 3600
_TOKENS: dict[tuple[str, str, str, str | None], tuple[str, float]] = {}


def headers(tenant: str, actor: str | None = None, role: str | None = None,
            team: str | None = None) -> dict[str, str]:
    """X-Tenant-Id and the bearer token of a call made by `actor` in `role` (see token)."""
    return {"X-Tenant-Id": tenant, "Authorization": f"Bearer {token(tenant, actor, role, team)}"}


def answer(service: str, response: httpx.Response) -> Any:
    """The JSON (or text) of a 2xx answer; a ServiceError otherwise."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if response.is_success:
        return body
    raise ServiceError(service, response.request.method, response.request.url.path, response.status_code, body)


def unreachable(service: str, url: str, error: Exception) -> PlatformError:
    return PlatformError(f"{service} does not answer at {url} ({type(error).__name__}): {START_HINT}")


class Api:
    """Async calls to one service within one tenant; every error is a PlatformError."""

    def __init__(self, service: str, client: httpx.AsyncClient, tenant: str) -> None:
        self.service, self.client, self.tenant = service, client, tenant

    async def call(self, method: str, path: str, *, actor: str | None = None, role: str | None = None,
                   team: str | None = None, ok: Iterable[int] = (), **kwargs: Any) -> Any:
        """The answer's body; a status in `ok` (e.g. 409 for an expected refusal) returns None instead of
        raising. The call is made as `actor` in `role` (and `team`): see token."""
        extra = kwargs.pop("headers", {})
        try:
            response = await self.client.request(method, path, headers=headers(self.tenant, actor, role, team) | extra,
                                                  **kwargs)
        except httpx.TransportError as error:
            raise unreachable(self.service, str(self.client.base_url), error) from error
        if response.status_code in set(ok):
            return None
        return answer(self.service, response)

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Any:
        return await self.call("POST", path, **kwargs)


def open_apis(endpoints: Endpoints, tenant: str, *, concurrency: int = 20) -> dict[str, Api]:
    """One client per service (close them with `close_apis`)."""
    # Idle connections are dropped well before uvicorn closes them (5 s): a request sent on a connection the
    # server is closing at that moment fails with a ReadError.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0)
    return {name: Api(name, httpx.AsyncClient(base_url=endpoints.url(name), timeout=30, limits=limits), tenant)
            for name in SERVICES}


async def close_apis(apis: Mapping[str, Api]) -> None:
    await asyncio.gather(*(api.client.aclose() for api in apis.values()))


async def check_running(endpoints: Endpoints, services: Iterable[str] = SERVICES) -> None:
    """Every named service answers /healthz, or a PlatformError that says which and what to do."""
    async with httpx.AsyncClient(timeout=3) as client:
        missing = []
        for name in services:
            url = endpoints.url(name)
            try:
                healthy = (await client.get(f"{url}/healthz")).status_code == 200
            except httpx.TransportError:
                healthy = False
            if not healthy:
                missing.append(f"{name} ({url})")
    if missing:
        raise PlatformError(f"not answering: {', '.join(missing)}; {START_HINT}")


def event_bytes(topic: str, data: BaseModel | Mapping[str, Any], *, tenant: str, source: str,
                time: datetime | None = None, event_id: str | None = None) -> tuple[str, bytes]:
    """(event id, JSON) of a CloudEvent on `topic`, its data checked against the topic's contract."""
    spec = BY_NAME[topic]
    model = data if isinstance(data, BaseModel) else spec.data_model.model_validate(data)
    event = spec.event(model, source=source, tenantid=tenant, time=time or datetime.now(UTC),
                       id=event_id or str(uuid.uuid4()))
    return event.id, event.to_json_bytes()


class Publisher:
    """Publishes CloudEvents (structured JSON) to the broker as an outside system does."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        # Idempotent: a batch sent again after a lost answer or a broker restart is written once.
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all", enable_idempotence=True)

    async def __aenter__(self) -> Publisher:
        try:
            await self.producer.start()
        except Exception as error:
            await self.producer.stop()
            raise PlatformError(f"the broker does not answer at {self.bootstrap} ({error}): {START_HINT}") from error
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def send(self, topic: str, payload: bytes, key: str | None) -> asyncio.Future[Any]:
        """Queue one message; the future resolves once the broker has it."""
        return await self.producer.send(topic, payload, key=key.encode() if key else None,
                                        headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())])

    async def publish(self, topic: str, data: BaseModel | Mapping[str, Any], *, tenant: str, source: str,
                      key: str | None, time: datetime | None = None, event_id: str | None = None) -> str:
        """Send one event and wait until the broker has it; its id."""
        event_id, payload = event_bytes(topic, data, tenant=tenant, source=source, time=time, event_id=event_id)
        await (await self.send(topic, payload, key))
        return event_id
