"""How long the console's consumer of allocation.assigned.v1 (a lead pushed to an agent's screen) waits for
records: FastStream's 200 ms default, paused again when nothing came, would hold a notification after a quiet
spell for up to 400 ms (speed to lead, issue 20). The service's own setting replaces it."""

from __future__ import annotations

from console.events import build_router
from console.settings import ConsoleSettings


def test_the_consumer_waits_the_setting_not_the_framework_default() -> None:
    assert ConsoleSettings().batch_wait_ms == 10
    found = [s for s in build_router(ConsoleSettings(batch_wait_ms=7)).subscribers
             if any(getattr(t, "name", t) == "allocation.assigned.v1" for t in getattr(s, "topics", ()))]
    assert found
    assert all(s.batch_timeout_ms == 7 and s.max_records == 500 for s in found)
