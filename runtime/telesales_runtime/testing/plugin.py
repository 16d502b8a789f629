"""pytest plugin of the telesales workspace (registered in the root pyproject with
``-p telesales_runtime.testing.plugin``).

It provides one session-scoped fixture, ``infra``: a frozen ``Infra(kafka_bootstrap,
mongo_uri, redis_url)``. Infrastructure is started only when a test asks for the fixture,
so unit tests run without any. How it is started: see ``telesales_runtime.testing.infra``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

# Helpers that assert for the tests: pytest explains their failing asserts as it does a test's own.
pytest.register_assert_rewrite("telesales_runtime.testing.asyncapi")

if TYPE_CHECKING:
    from telesales_runtime.testing.infra import Infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """Broker, database and cache for integration tests (testcontainers or the local stack)."""
    from telesales_runtime.testing.infra import start_infra  # stdlib-only module; heavy imports happen inside

    handle, stop = start_infra()
    try:
        yield handle
    finally:
        stop()
