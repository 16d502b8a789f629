"""metrics settings: environment variables prefixed METRICS_ (broker, database and cache addresses may also
come from the shared TELESALES_ prefix)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from telesales_runtime.settings import TimeZoneName, ZonedServiceSettings


class MetricsSettings(ZonedServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="METRICS_")

    service_name: str = "metrics"
    http_port: int = 8105
    mongo_db: str = "metrics"
    consumer_group: str = "metrics"
    timezone: TimeZoneName = Field(default="Asia/Shanghai", description="Time zone of the floor: events count "
                                   "in the day and ISO week of their own time there.")
    batch_max_records: int = Field(default=30_000, ge=1, le=50_000, description="Records per consumed batch; a "
                                   "batch of every topic is applied in one MongoDB transaction, so the larger it "
                                   "is, the fewer times a counter or an agent's day is written (MongoDB's CPU per "
                                   "event fell by a third from 10,000 to 30,000). A batch of 30,000 parsed events "
                                   "takes about 65 MiB.")
    effective_call_seconds: int = Field(default=60, ge=1, description="A connected call at least this long is "
                                        "an effective call (有效沟通).")
    deep_call_seconds: int = Field(default=180, ge=1, description="A connected call at least this long is a "
                                   "deep call (深度沟通).")
    inbox_retention_days: int = Field(default=30, ge=1, description="How long processed event ids are kept: a "
                                      "repeat of an event id within this time is not counted again.")
    refresh_seconds: float = Field(default=5.0, gt=0, description="How often the figures /metrics exposes are "
                                   "read again from MongoDB (a scrape never waits for the database).")
    max_business_lines: int = Field(default=20, ge=1, description="Business-line label values per tenant on "
                                    "/metrics; the first ones seen are kept, later ones are summed as `other`.")
    max_teams: int = Field(default=50, ge=1, description="Team label values per tenant on /metrics, the same way.")
    business_lines: list[str] = Field(default_factory=list, description="When set, exactly these business "
                                      "lines get a label value on /metrics (JSON list); others are `other`.")
    teams: list[str] = Field(default_factory=list, description="When set, exactly these teams get a label value "
                             "on /metrics (JSON list); others are `other`.")
    indicator_days: int = Field(default=30, ge=1, le=366, description="Days an agent's indicators cover when "
                                "the request names no range (up to today).")
    max_range_days: int = Field(default=366, ge=1, description="Longest range one API request may cover.")
