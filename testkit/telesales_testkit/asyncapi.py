"""Checks that a service's committed AsyncAPI document (regenerated with `make docs`) is the code's."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from faststream import FastStream

from telesales_contracts import Topic


def committed_channels(committed: Path) -> dict[str, Any]:
    return json.loads(committed.read_text(encoding="utf-8"))["channels"]


def assert_asyncapi_current(committed: Path, app: FastStream) -> None:
    """The committed document equals the one generated from the service's broker."""
    generated = app.schema.to_specification().to_jsonable()
    assert json.loads(committed.read_text(encoding="utf-8")) == generated, "run `make docs`"


def assert_asyncapi_lists_topics(committed: Path, consumed: Iterable[Topic], produced: Iterable[Topic]) -> None:
    """The committed document names every topic the service uses, and publishes exactly what it produces."""
    channels = committed_channels(committed)
    produced = list(produced)
    addresses = {channel["address"] for channel in channels.values()}
    assert addresses >= {t.name for t in (*consumed, *produced)}
    assert {t.name for t in produced} == {name.removesuffix(":publish") for name in channels
                                          if name.endswith(":publish")}
