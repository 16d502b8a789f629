"""A raw producer (the outbox relay's) takes the platform's settings, and a caller's overrides of them."""

from __future__ import annotations

from telesales_runtime.kafka import PRODUCER_OPTIONS, create_producer
from telesales_runtime.settings import ServiceSettings


async def test_a_producer_takes_the_platform_settings_unless_told_otherwise() -> None:
    settings = ServiceSettings()
    default = create_producer(settings, "outbox")
    at_once = create_producer(settings, "outbox", linger_ms=0)
    assert default._message_accumulator._linger_time == PRODUCER_OPTIONS["linger_ms"] / 1000 > 0  # noqa: SLF001
    assert at_once._message_accumulator._linger_time == 0  # noqa: SLF001
    # the rest stays the platform's: every in-sync replica acknowledges
    assert at_once._sender._acks == default._sender._acks == -1  # noqa: SLF001
