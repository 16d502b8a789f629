"""How long the allocator's consumer (leads.qualified.v1 among its topics) waits for records: FastStream's batch
subscriber waits its batch_timeout_ms and, when nothing came, pauses that long again, so its 200 ms default
would hold a lead arriving after a quiet spell for up to 400 ms before it is pooled and pushed (speed to lead,
issue 20). The service's own setting replaces it."""

from __future__ import annotations

from allocator.events import build_router
from allocator.settings import AllocatorSettings


def test_the_consumer_waits_the_setting_not_the_framework_default() -> None:
    assert AllocatorSettings().batch_wait_ms == 10
    found = [s for s in build_router(AllocatorSettings(batch_wait_ms=7)).subscribers
             if any(getattr(t, "name", t) == "leads.qualified.v1" for t in getattr(s, "topics", ()))]
    assert found
    assert all(s.batch_timeout_ms == 7 and s.max_records == 500 for s in found)
