"""The committed AsyncAPI document matches the code (regenerate with `make docs`)."""

from __future__ import annotations

from pathlib import Path

from ledger.events import CONSUMED_TOPICS, PRODUCED_TOPICS
from ledger.main import asyncapi_app
from telesales_testkit.asyncapi import assert_asyncapi_current, assert_asyncapi_lists_topics

COMMITTED = Path(__file__).resolve().parents[2] / "asyncapi.json"


def test_committed_asyncapi_matches_the_code() -> None:
    assert_asyncapi_current(COMMITTED, asyncapi_app())


def test_asyncapi_lists_every_topic_the_service_uses() -> None:
    assert_asyncapi_lists_topics(COMMITTED, CONSUMED_TOPICS, PRODUCED_TOPICS)
