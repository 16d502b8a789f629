"""pytest plugin of the telesales workspace (registered in the root pyproject with
``-p telesales_testkit.plugin``).

It provides a session-scoped fixture, ``infra``: a frozen ``Infra(kafka_bootstrap,
mongo_uri, redis_url)``. Infrastructure is started only when a test asks for the fixture,
so unit tests run without any. How it is started: see ``telesales_testkit.infra``. And ``scratch_db``:
a database of the test's own on that MongoDB, dropped afterwards.

It also marks the tests by where they are and what they ask for, so no test file carries a marker
of its own (``make test-unit`` deselects ``integration`` and ``faults``):

* ``integration``: every test under a ``tests/integration/`` or ``tests/browser/`` directory, and
  every test that asks for ``infra`` (directly or through its fixtures), wherever it is;
* ``faults``: every test under ``tests/faults/``. They run only when the marker expression names
  ``faults`` (``make test-faults``): a plain ``pytest`` does not start killing and freezing things.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import AsyncIterator, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from telesales_runtime.pii_crypto import new_keyring_json
from telesales_testkit.infra import Infra, start_infra

# Helpers that assert for the tests: pytest explains their failing asserts as it does a test's own.
pytest.register_assert_rewrite("telesales_testkit.asyncapi")

INTEGRATION_DIRS = (("tests", "integration"), ("tests", "browser"))
FAULTS_DIRS = (("tests", "faults"),)


def _under(path: Path, dirs: tuple[tuple[str, str], ...]) -> bool:
    """`path` lies below one of `dirs` (a parent/child pair of directory names, anywhere in the path)."""
    parts = path.parts[:-1]
    return any(pair in dirs for pair in zip(parts, parts[1:], strict=False))


def marker_of(path: Path, fixtures: Collection[str]) -> str | None:
    """The marker a test at `path` asking for `fixtures` gets: faults, integration, or none (a unit test)."""
    if _under(path, FAULTS_DIRS):
        return "faults"
    if _under(path, INTEGRATION_DIRS) or "infra" in fixtures:
        return "integration"
    return None


def _interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """Services that store personal data refuse to start without a keyring: the tests' services share one made
    for this session (unless the environment names one).

    A SIGTERM (an outer timeout, a CI job cancelled) ends the run as Ctrl-C does, so that the fixtures' teardown
    still stops the service processes and private brokers they started: by default Python dies at once and
    leaves them running, each in a session of its own."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupted)
    if not (os.environ.get("TELESALES_PII_KEYRING") or os.environ.get("TELESALES_PII_KEYRING_FILE")):
        os.environ["TELESALES_PII_KEYRING"] = new_keyring_json("test-session")


@pytest.hookimpl(tryfirst=True)  # before pytest's own `-m` selection reads the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    faults: list[pytest.Item] = []
    for item in items:
        marker = marker_of(item.path, getattr(item, "fixturenames", []))
        if marker is not None:
            item.add_marker(marker)
        if marker == "faults":
            faults.append(item)
    if faults and "faults" not in (config.option.markexpr or ""):
        config.hook.pytest_deselected(items=faults)
        left_out = set(map(id, faults))
        items[:] = [item for item in items if id(item) not in left_out]


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """Broker, database and cache for integration tests (testcontainers or the local stack)."""
    handle, stop = start_infra()
    try:
        yield handle
    finally:
        stop()


@pytest.fixture
async def scratch_db(infra: Infra) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of this test's own on the stack's MongoDB (a fresh name), dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    name = f"test_scratch_{uuid.uuid4().hex[:10]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()
