"""The number-privacy provider interface (AXB 隐私号): a provider binds a middle number X to a customer's
number B (and the agent's number A when known) for a few minutes, so that the agent dials X and reaches B
without ever seeing B. Adapters: simulated.py (development and tests), http.py (a provider over HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# Problem codes a provider's failure is answered with, and their HTTP status (api/dialing.py).
POOL_EXHAUSTED = "privacy_pool_exhausted"
NOT_CONFIGURED = "privacy_provider_not_configured"
TIMEOUT = "privacy_provider_timeout"
UNAVAILABLE = "privacy_provider_unavailable"
REFUSED = "privacy_provider_refused"
BAD_ANSWER = "privacy_provider_bad_answer"
PROBLEM_STATUS: dict[str, int] = {POOL_EXHAUSTED: 503, NOT_CONFIGURED: 503, TIMEOUT: 504, UNAVAILABLE: 502,
                                  REFUSED: 502, BAD_ANSWER: 502}


@dataclass(frozen=True, slots=True)
class Binding:
    """A live binding: dial `middle_number` until `expires_at` to reach the customer."""

    middle_number: str
    binding_id: str
    expires_at: datetime


class PrivacyError(Exception):
    """The provider could not bind (or unbind): `code` one of PROBLEM_STATUS; `retry_after` seconds when a
    retry later may succeed (a pool that frees up)."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


class NumberPrivacyProvider(Protocol):
    name: str

    async def bind(self, *, customer_number: str, agent_number: str | None, ttl_seconds: int,
                   reference: str) -> Binding:
        """A middle number bound to `customer_number` (and `agent_number`, when known) for `ttl_seconds`.
        `reference` names the agent and the lead: the same reference while its binding lives gets that binding
        back (renewed), not a second middle number."""
        ...

    async def unbind(self, binding_id: str) -> None:
        """End a binding now (an unknown or expired one is already ended: no error)."""
        ...


class PrivacyProviders:
    """The adapters this deployment configured, by the name a tenant's policy uses."""

    def __init__(self, providers: dict[str, NumberPrivacyProvider]) -> None:
        self._providers = providers

    def configured(self, name: str) -> bool:
        return name in self._providers

    def get(self, name: str) -> NumberPrivacyProvider:
        provider = self._providers.get(name)
        if provider is None:
            raise PrivacyError(NOT_CONFIGURED, f"the number-privacy provider {name!r} is not configured in this "
                               "deployment (ALLOCATOR_PRIVACY_* settings)")
        return provider

    async def close(self) -> None:
        for provider in self._providers.values():
            close = getattr(provider, "close", None)
            if close is not None:
                await close()
