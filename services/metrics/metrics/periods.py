"""The days and periods of a request: its range of ISO days in the floor's time zone, and the period (day,
ISO week, or the whole range) each day's counts are summed into."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from telesales_runtime.errors import DomainError

from .domain import iso_week

FAR_FUTURE = "9999-12-31"


def request_days(*, first: date | None, last: date | None, default_days: int, tz: ZoneInfo,
                 max_days: int) -> tuple[str, str]:
    """The ISO days of a request's range (today and the `default_days` before it when not given)."""
    end = last or datetime.now(tz).date()
    start = first or end - timedelta(days=default_days - 1)
    if start > end:
        raise DomainError("bad_range", "`from` is after `to`")
    if (end - start).days + 1 > max_days:
        raise DomainError("range_too_long", f"ask for at most {max_days} days", max_days=max_days)
    return start.isoformat(), end.isoformat()


def period_of(day: str, period: str, first: str, last: str) -> str:
    """The label of the period `day` is summed into: the day, its ISO week, or `first/last`."""
    if period == "day":
        return day
    if period == "week":
        return iso_week(day)
    return f"{first}/{last}"


def period_start(label: str, period: str, first: str) -> str:
    if period == "week":
        year, week = label.split("-W")
        return max(first, date.fromisocalendar(int(year), int(week), 1).isoformat())
    return first


def period_end(label: str, period: str, last: str) -> str:
    if period == "week":
        year, week = label.split("-W")
        return date.fromisocalendar(int(year), int(week), 7).isoformat()
    return last
