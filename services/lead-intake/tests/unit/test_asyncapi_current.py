"""The committed AsyncAPI document matches the code (regenerate with `make docs`)."""

from __future__ import annotations

from pathlib import Path

from lead_intake.main import asyncapi_app
from telesales_testkit.asyncapi import assert_asyncapi_current, committed_channels

COMMITTED = Path(__file__).resolve().parents[2] / "asyncapi.json"


def test_committed_asyncapi_matches_the_code() -> None:
    assert_asyncapi_current(COMMITTED, asyncapi_app())


def test_asyncapi_lists_every_topic_the_service_uses() -> None:
    assert set(committed_channels(COMMITTED)) == {
        "leads.received.v1:consume", "leads.outcome.v1:consume", "leads.complaint.v1:consume", "leads.qualified.v1:publish",
        "leads.merged.v1:publish", "leads.consent-changed.v1:publish", "leads.rejected.v1:publish",
        "leads.do-not-call.v1:publish",
        "platform.dead-lettered.v1:publish", "privacy.erasure-requested.v1:consume",
        "privacy.erasure-requested.v1:publish", "privacy.erasure-completed.v1:consume",
        "privacy.erasure-completed.v1:publish",
    }
