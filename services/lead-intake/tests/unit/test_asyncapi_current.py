"""The committed AsyncAPI document matches the code (regenerate with `make docs`)."""

from __future__ import annotations

import json
from pathlib import Path

from lead_intake.main import asyncapi_app

COMMITTED = Path(__file__).resolve().parents[2] / "asyncapi.json"


def test_committed_asyncapi_matches_the_code() -> None:
    generated = asyncapi_app().schema.to_specification().to_jsonable()
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == generated, "run `make docs`"


def test_asyncapi_lists_every_topic_the_service_uses() -> None:
    channels = json.loads(COMMITTED.read_text(encoding="utf-8"))["channels"]
    assert set(channels) == {
        "leads.received.v1:consume", "leads.outcome.v1:consume", "leads.complaint.v1:consume", "leads.qualified.v1:publish",
        "leads.merged.v1:publish", "leads.rejected.v1:publish", "platform.dead-lettered.v1:publish",
    }
