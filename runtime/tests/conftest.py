"""Fixtures runtime's tests share."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from telesales_testkit.pki import Pki, make_pki


@pytest.fixture(scope="module")
def pki() -> Iterator[Pki]:
    """A throwaway certificate authority and certificates (one per test module)."""
    with tempfile.TemporaryDirectory(prefix="telesales-tls-") as directory:
        yield make_pki(Path(directory))
