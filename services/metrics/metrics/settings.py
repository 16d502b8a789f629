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
    batch_max_records: int = Field(default=10_000, ge=1, le=50_000, description="Records per fetch: a batch is "
                                   "sorted by the events' own times and counted in memory.")
    checkpoint_seconds: float = Field(default=5.0, gt=0, le=60, description="How often what was counted is "
                                      "written with the offsets consumed (one transaction), at most: what a replica "
                                      "taking over, or this one after a crash, counts again. When the consumer is "
                                      "caught up it writes at once. The longer, the fewer times a state changed by "
                                      "many events is written.")
    checkpoint_max_events: int = Field(default=500_000, ge=1, description="Events counted in memory and not "
                                       "written yet at most: then a checkpoint is taken at once, after the write "
                                       "before it (how far memory may run ahead of MongoDB).")
    state_cache_max: int = Field(default=1_000_000, ge=1000, description="States (leads, agents, users, "
                                 "user-tip pairs) held in memory; beyond it the longest held are forgotten and "
                                 "read again from MongoDB when needed (about 300 bytes each).")
    lease_seconds: float = Field(default=20.0, ge=3, le=600, description="Lease of the replica that consumes: "
                                 "when it stops renewing it, another replica takes over after this long.")
    effective_call_seconds: int = Field(default=60, ge=1, description="A connected call at least this long is "
                                        "an effective call (有效沟通).")
    deep_call_seconds: int = Field(default=180, ge=1, description="A connected call at least this long is a "
                                   "deep call (深度沟通).")
    inbox_retention_days: int = Field(default=30, ge=1, description="How long processed event ids are kept: a "
                                      "repeat of an event id within this time is not counted again.")
    refresh_seconds: float = Field(default=5.0, gt=0, description="How often the figures /metrics exposes are "
                                   "read again from MongoDB (a scrape never waits for the database).")
    rebuild_seconds: float = Field(default=300.0, gt=0, description="The /metrics figures are built again when "
                                   "a checkpoint was written since or the day changed, and at least this often.")
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
