"""marketplace settings: environment variables prefixed MARKETPLACE_ (broker, database and cache addresses
may also come from the shared TELESALES_ prefix)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from telesales_contracts.marketplace import CallStage, FunnelStep
from telesales_runtime.settings import TimeZoneName, ZonedServiceSettings

from .domain import DEFAULT_STAGE_OF_STEP
from .domain.struggle import DEFAULT_PUSH_ON_CALL_STAGES


class MarketplaceSettings(ZonedServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="MARKETPLACE_")

    service_name: str = "marketplace"
    http_port: int = 8104
    mongo_db: str = "marketplace"
    consumer_group: str = "marketplace"
    timezone: TimeZoneName = Field(default="Asia/Shanghai", description="Time zone of the day a user counts as "
                                   "active in.")
    batch_max_records: int = Field(default=500, ge=1, le=10_000, description="Records per consumed batch.")
    ledger_url: str = Field(default="http://127.0.0.1:8103", description="Base URL of the ledger's HTTP API "
                            "(redemptions).")
    ledger_timeout_seconds: float = Field(default=10.0, gt=0)
    media_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1, description="Largest media upload.")

    def upload_body_limits(self) -> dict[str, int]:
        return {"/v1/tips/{tip_id}/versions/{version}/media": self.media_max_bytes}

    media_chunk_bytes: int = Field(default=255 * 1024, ge=1024, description="GridFS chunk size.")
    learned_at_percent: int = Field(default=90, ge=1, le=100, description="Progress at which a tip counts "
                                    "as learned.")
    deep_learner_min_tips: int = Field(default=7, ge=1, description="Tips learned to be a deep learner.")
    deep_learner_min_seconds: int = Field(default=20 * 60, ge=0, description="Watch time a deep learner "
                                          "exceeds, in seconds.")
    stage_of_step: dict[FunnelStep, CallStage] = Field(
        default_factory=lambda: dict(DEFAULT_STAGE_OF_STEP),
        description="The call stage recommended for each lagging funnel step (JSON object).")
    recommend_limit: int = Field(default=5, ge=1, le=50, description="Tips per struggle recommendation.")
    metrics_url: str = Field(default="http://127.0.0.1:8105", description="Base URL of the metrics service's HTTP "
                             "API (an agent's funnel rates for the struggle push).")
    metrics_timeout_seconds: float = Field(default=5.0, gt=0)
    push_daily_cap: int = Field(default=3, ge=0, le=100, description="Struggle pushes (rolling window and calls) an "
                                "agent gets a day at most.")
    push_repeat_days: int = Field(default=7, ge=0, le=365, description="Days a tip recommended to an agent is not "
                                  "pushed to it again.")
    push_on_call_stages: set[CallStage] = Field(
        default_factory=lambda: set(DEFAULT_PUSH_ON_CALL_STAGES),
        description="The stages at which a call that ends without progress pushes a tip of that stage (JSON list).")
    struggle_window_days: int = Field(default=7, ge=1, le=366, description="The rolling window (days up to today) "
                                      "over which the periodic job compares an agent's funnel with its team's.")
    struggle_job_enabled: bool = Field(default=True, description="Run the rolling window's job in this replica "
                                       "(one replica at a time runs it: a lease).")
    struggle_job_interval_seconds: float = Field(default=600, gt=0, description="How often the job looks at the "
                                                 "agents who called within the window.")
    lease_seconds: float = Field(default=30, gt=1, description="A leader's lease on the job; another replica takes "
                                 "over once it has expired.")

    @field_validator("stage_of_step")
    @classmethod
    def _over_the_default(cls, value: dict[FunnelStep, CallStage]) -> dict[FunnelStep, CallStage]:
        """Steps not named keep their default stage."""
        return {**DEFAULT_STAGE_OF_STEP, **value}
