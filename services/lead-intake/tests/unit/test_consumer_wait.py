"""How long the consumers of leads.received.v1 wait for records: FastStream's batch subscriber waits its
batch_timeout_ms and, when nothing came, pauses that long again, so its 200 ms default would hold a lead
arriving after a quiet spell for up to 400 ms. The service's own setting replaces it."""

from __future__ import annotations

from lead_intake.events import build_router
from lead_intake.settings import LeadIntakeSettings


def received_subscribers(settings: LeadIntakeSettings) -> list:
    return [s for s in build_router(settings).subscribers
            if any(getattr(t, "name", t) == "leads.received.v1" for t in getattr(s, "topics", ()))]


def test_the_received_consumers_wait_the_setting_not_the_framework_default() -> None:
    assert LeadIntakeSettings().batch_wait_ms == 10
    found = received_subscribers(LeadIntakeSettings(batch_wait_ms=7))
    assert found
    assert all(s.batch_timeout_ms == 7 and s.max_records == 1000 for s in found)
