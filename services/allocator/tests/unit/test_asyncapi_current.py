"""The committed AsyncAPI document matches the code (regenerate with `make docs`)."""

from __future__ import annotations

import json
from pathlib import Path

from allocator.events import CONSUMED_TOPICS, PRODUCED_TOPICS
from allocator.main import asyncapi_app

COMMITTED = Path(__file__).resolve().parents[2] / "asyncapi.json"


def test_committed_asyncapi_matches_the_code() -> None:
    generated = asyncapi_app().schema.to_specification().to_jsonable()
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == generated, "run `make docs`"


def test_asyncapi_lists_every_topic_the_service_uses() -> None:
    channels = json.loads(COMMITTED.read_text(encoding="utf-8"))["channels"]
    addresses = {channel["address"] for channel in channels.values()}
    assert addresses >= {t.name for t in (*CONSUMED_TOPICS, *PRODUCED_TOPICS)}
    assert {t.name for t in PRODUCED_TOPICS} == {name.removesuffix(":publish") for name in channels
                                                  if name.endswith(":publish")}
