"""allocator settings: environment variables prefixed ALLOCATOR_ (broker, database and cache addresses may
also come from the shared TELESALES_ prefix)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from telesales_runtime.settings import ServiceSettings


class AllocatorSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="ALLOCATOR_")

    service_name: str = "allocator"
    http_port: int = 8102
    mongo_db: str = "allocator"
    consumer_group: str = "allocator"
    timezone: str = Field(default="Asia/Shanghai", description="Time zone of the floor: days worked, quota "
                          "periods and grading weeks are counted in it.")
    batch_max_records: int = Field(default=500, ge=1, le=10_000)
    sweep_interval_seconds: float = Field(default=60, gt=0, description="How often the reclaim sweep runs.")
    sweep_batch_size: int = Field(default=1000, ge=1, le=10_000)
    sweep_enabled: bool = Field(default=True, description="Run the reclaim sweep and weekly grading in this "
                                "process (only the lease holder among replicas actually runs them).")
    grading_enabled: bool = True
    lease_seconds: float = Field(default=30, gt=1, description="A leader's lease on the sweep; another replica "
                                 "takes over this long after the leader stops renewing it.")
    config_cache_seconds: float = Field(default=5.0, ge=0, description="How long pools, tiers and policy are "
                                        "cached in memory.")
    agent_cache_seconds: float = Field(default=2.0, ge=0, description="How long an agent's grade and status are "
                                       "cached for claim checks (the holding cap is always read fresh).")
    claim_lock_seconds: float = Field(default=5.0, gt=0, description="Longest a claim may hold an agent's lock.")
    import_max_rows: int = Field(default=20_000, ge=1)
    import_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
