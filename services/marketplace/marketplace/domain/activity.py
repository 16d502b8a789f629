"""Daily activity: a user's first activity of the day (in the marketplace's time zone) is announced once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from telesales_contracts.marketplace import ActivityKind, UserDailyActive
from telesales_contracts.topics import MARKETPLACE_DAILY_ACTIVE

from .announcements import Announcement


def business_day(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).date().isoformat()


@dataclass(frozen=True)
class DailyActive:
    """Record the user's first activity of `day`; announced only when it is the first (the store says)."""

    user_id: str
    day: str
    kind: ActivityKind
    at: datetime

    @classmethod
    def of(cls, user_id: str, kind: ActivityKind, now: datetime, tz: ZoneInfo) -> DailyActive:
        return cls(user_id, business_day(now, tz), kind, now)

    def announcement(self) -> Announcement:
        event = UserDailyActive(user_id=self.user_id, day=self.day, first_activity=self.kind, at=self.at)
        return Announcement(MARKETPLACE_DAILY_ACTIVE, event, self.user_id)
