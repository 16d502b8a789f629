"""ledger settings: environment variables prefixed LEDGER_ (broker, database and cache addresses may also
come from the shared TELESALES_ prefix)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from telesales_runtime.settings import TimeZoneName, ZonedServiceSettings


class LedgerSettings(ZonedServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="LEDGER_")

    service_name: str = "ledger"
    http_port: int = 8103
    mongo_db: str = "ledger"
    consumer_group: str = "ledger"
    timezone: TimeZoneName = Field(default="Asia/Shanghai", description="Time zone of the business day the "
                                   "daily purchase limits count in.")
    batch_max_records: int = Field(default=500, ge=1, le=10_000, description="Records per consumed batch; the "
                                   "purchase requests of a batch are decided in one MongoDB transaction per tenant.")
    batch_top_up_ms: int = Field(default=5, ge=0, le=1000, description="How long a batch waits, when it starts, "
                                 "for the records that arrived while the previous one was handled (they join it).")
    batch_top_up_stale_ms: int = Field(default=50, ge=0, le=1000, description="The same wait, at most, when the "
                                       "records a batch was handed are older than batch_top_up_ms (they waited "
                                       "in the consumer's buffer while the previous batch was handled, and what "
                                       "came after them is still in the broker): it ends when the fetch lands.")
    # The consumer reads four topics, three of them mostly idle. aiokafka fetches the idle partitions on
    # their own while a batch longer than 100 ms is handled (its prefetch back-off), and while that fetch
    # waits at the broker for records that do not come, it sends no other fetch to that broker: the batch
    # that follows got its records up to this long late. The platform's 100 ms made batches of ~10 and
    # ~200 take turns at half of saturation; 20 ms costs an idle consumer 50 empty fetches a second.
    kafka_fetch_max_wait_ms: int = Field(default=20, ge=1, le=5000, description="Longest a fetch waits for "
                                         "records when none have arrived (the platform's default is 100).")
    # The consumer commits a batch at a time: waiting for more writes after one gathers nothing (the next
    # batch commits a whole batch later) and only delays the answers.
    outbox_linger_seconds: float = Field(default=0.0, ge=0, le=1, description="After a write, how long the "
                                         "relay waits for more before it publishes (0: at once).")
    sweep_enabled: bool = Field(default=True, description="Void expired holds and reclaim idle wallets in this "
                                "process (only the lease holder among replicas actually does).")
    sweep_interval_seconds: float = Field(default=15, gt=0, description="How often expired holds are voided.")
    reclaim_interval_seconds: float = Field(default=3600, gt=0, description="How often idle wallets are reclaimed.")
    lease_seconds: float = Field(default=30, gt=1)
    sweep_batch_size: int = Field(default=200, ge=1, le=5000, description="Holds or wallets per transaction.")
    config_cache_seconds: float = Field(default=5.0, ge=0, description="How long a tenant's policy is cached.")
    allocation_max_recipients: int = Field(default=20_000, ge=1)
    blind_box_max_recipients: int = Field(default=1000, ge=1)
    statement_csv_max_rows: int = Field(default=1_000_000, ge=1)
