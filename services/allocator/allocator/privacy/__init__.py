"""Calls without the number: the number-privacy provider interface (provider.py) and its adapters, built
from the service's settings (credentials and URLs never come from the API)."""

from __future__ import annotations

from ..settings import AllocatorSettings
from ..store.privacy_numbers import SimulatedNumberStore
from .http import HttpProvider
from .provider import (
    PROBLEM_STATUS,
    Binding,
    NumberPrivacyProvider,
    PrivacyError,
    PrivacyProviders,
)
from .simulated import SimulatedProvider

__all__ = ["PROBLEM_STATUS", "Binding", "HttpProvider", "NumberPrivacyProvider", "PrivacyError",
           "PrivacyProviders", "SimulatedProvider", "providers_from"]


def providers_from(settings: AllocatorSettings, simulated_store: SimulatedNumberStore) -> PrivacyProviders:
    """The adapters this deployment offers: `simulated` when ALLOCATOR_PRIVACY_SIMULATED_NUMBERS names
    middle numbers, `http` when ALLOCATOR_PRIVACY_HTTP_URL is set."""
    providers: dict[str, NumberPrivacyProvider] = {}
    if settings.simulated_numbers():
        providers["simulated"] = SimulatedProvider(simulated_store, settings.simulated_numbers())
    if settings.privacy_http_url is not None:
        token = settings.privacy_http_token.get_secret_value() if settings.privacy_http_token else None
        providers["http"] = HttpProvider(base_url=str(settings.privacy_http_url), token=token,
                                         timeout_seconds=settings.privacy_http_timeout_seconds)
    return PrivacyProviders(providers)
