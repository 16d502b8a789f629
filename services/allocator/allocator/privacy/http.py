"""A number-privacy provider over HTTP (any platform behind a small adapter of its own speaks this shape).

    POST {url}/bindings   Authorization: Bearer <token>   Idempotency-Key: <reference>
      {"customer_number": "+8613912345678", "agent_number": "+8601088886666" | null,
       "ttl_seconds": 300, "reference": "<tenant>:<lead>:<agent>"}
      200/201 -> {"binding_id": "b-1", "middle_number": "+8617100000001", "expires_at": "2026-01-01T08:05:00Z"}
      409/429 {"code": "pool_exhausted"} (Retry-After honoured) -> no middle number free now
    DELETE {url}/bindings/{binding_id}  -> 200/204, or 404 (already ended)

Any other answer is a failure with a clear code: a timeout (`privacy_provider_timeout`), no connection or a
5xx (`privacy_provider_unavailable`), another 4xx (`privacy_provider_refused`: credentials, numbers), an
answer without those fields or already expired (`privacy_provider_bad_answer`). The provider's words are
passed on with phone numbers masked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from telesales_runtime.masking import mask_phones

from .provider import BAD_ANSWER, POOL_EXHAUSTED, REFUSED, TIMEOUT, UNAVAILABLE, Binding, PrivacyError


class BindingAnswer(BaseModel):
    binding_id: str
    middle_number: str
    expires_at: datetime


def _words(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    said = body.get("message") or body.get("detail") or body.get("code") or ""
    return mask_phones(str(said))[:200]


def _retry_after(answer: httpx.Response) -> float | None:
    try:
        return max(1.0, float(answer.headers.get("Retry-After", "")))
    except ValueError:
        return None


def failure_of(answer: httpx.Response) -> PrivacyError:
    """The provider's non-success answer as the failure it means."""
    words = _words(answer)
    status = answer.status_code
    if status in (409, 429) and "pool_exhausted" in answer.text:
        return PrivacyError(POOL_EXHAUSTED, f"the provider has no middle number free now{': ' + words if words else ''}",
                            retry_after=_retry_after(answer))
    if 400 <= status < 500:
        return PrivacyError(REFUSED, f"the provider refused the request ({status}){': ' + words if words else ''}")
    return PrivacyError(UNAVAILABLE, f"the provider failed ({status}){': ' + words if words else ''}")


class HttpProvider:
    name = "http"

    def __init__(self, *, base_url: str, token: str | None, timeout_seconds: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        headers = {"Accept": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
        self.http = httpx.AsyncClient(timeout=timeout_seconds, headers=headers)
        self.timeout_seconds = timeout_seconds

    async def close(self) -> None:
        await self.http.aclose()

    async def bind(self, *, customer_number: str, agent_number: str | None, ttl_seconds: int,
                   reference: str) -> Binding:
        body = {"customer_number": customer_number, "agent_number": agent_number, "ttl_seconds": ttl_seconds,
                "reference": reference}
        answer = await self._send("POST", "/bindings", json=body, headers={"Idempotency-Key": reference})
        if answer.status_code not in (200, 201):
            raise failure_of(answer)
        try:
            made = BindingAnswer.model_validate_json(answer.content)
        except ValidationError as error:
            raise PrivacyError(BAD_ANSWER, "the provider's answer has no binding_id, middle_number and "
                               f"expires_at ({error.error_count()} errors)") from error
        expires_at = made.expires_at if made.expires_at.tzinfo else made.expires_at.replace(tzinfo=UTC)
        if expires_at <= self.clock() or not made.middle_number.strip():
            raise PrivacyError(BAD_ANSWER, "the provider answered a binding that is already over or has no number")
        return Binding(middle_number=made.middle_number, binding_id=made.binding_id, expires_at=expires_at)

    async def unbind(self, binding_id: str) -> None:
        answer = await self._send("DELETE", f"/bindings/{quote(binding_id, safe='')}")
        if answer.status_code not in (200, 202, 204, 404):
            raise failure_of(answer)

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, self.base_url + path, **kwargs)
        except httpx.TimeoutException as error:
            raise PrivacyError(TIMEOUT, f"the provider did not answer within {self.timeout_seconds:g} s") from error
        except httpx.HTTPError as error:
            raise PrivacyError(UNAVAILABLE, f"the provider cannot be reached ({type(error).__name__})") from error
