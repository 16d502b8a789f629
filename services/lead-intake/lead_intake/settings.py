"""lead-intake settings: environment variables prefixed LEAD_INTAKE_ (broker, database and cache
addresses may also come from the shared TELESALES_ prefix)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from telesales_runtime.settings import ServiceSettings


class LeadIntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="LEAD_INTAKE_")

    service_name: str = "lead-intake"
    http_port: int = 8101
    mongo_db: str = "lead_intake"
    consumer_group: str = "lead-intake"
    consumers: int = Field(default=3, ge=1, le=16,
                           description="Consumers of leads.received.v1 in this process (same group): while one "
                                       "waits for MongoDB, another works. Each needs a partition of its own: "
                                       "more consumers than partitions sit idle.")
    batch_max_records: int = Field(default=1000, ge=1, le=10_000,
                                   description="Most records one handler call takes from Kafka.")
    batch_wait_ms: int = Field(default=10, ge=1, le=1000,
                               description="Longest a consumer of leads.received.v1 waits for records before it "
                                           "asks again (FastStream's batch_timeout_ms). When none came, FastStream "
                                           "also pauses that long before the next wait, so a lead arriving then "
                                           "waits up to twice this (FastStream's default: 200 ms).")
    phone_regions_dir: Path | None = Field(default=None, description="Folder of the table of Chinese place names "
                                           "of phone prefixes (lead_intake/phone_regions.py): made there at the "
                                           "first start when missing; the image carries it. Default: the user's "
                                           "cache folder.")
    default_region: str = Field(default="CN", pattern=r"^[A-Z]{2}$",
                                description="Region a national phone number is read in.")
    test_numbers: list[str] = Field(default_factory=list, description="Extra E.164 test numbers to reject.")
    number_checker: Literal["offline", "http"] = "offline"
    number_checker_url: str | None = Field(default=None, description="POST endpoint of the HTTP number checker.")
    number_checker_timeout_seconds: float = Field(default=2.0, gt=0)
    publish_timeout_seconds: float = Field(default=10.0, gt=0, le=60, description="Longest POST /v1/leads waits "
                                           "for the broker to confirm the lead before it answers 503.")
    access_log_retention_days: int = Field(default=365, ge=1, le=3650, description="How long the access log "
                                           "(who saw which lead's number in full) keeps a record.")
    erasure_services: list[str] = Field(
        default_factory=lambda: ["lead-intake", "allocator", "console", "metrics", "marketplace", "ledger"],
        min_length=1, description="The services whose privacy.erasure-completed.v1 an erasure request waits for.")
    topic_erasure_enabled: bool = Field(default=True, description="Run the topic step of erasure requests: "
                                        "remove the person from the Kafka topics that carry personal data.")
    topic_erasure_interval_seconds: float = Field(default=30.0, gt=0, le=3600, description="Pause between passes "
                                                  "of the topic step (a pass reads the personal-data topics whole, "
                                                  "only while a request is pending).")
    topic_erasure_group_idle_seconds: float = Field(
        default=7 * 24 * 3600, ge=0, description="How long an empty consumer group (no members) still holds "
        "back a truncation after it was last seen with members (or first seen): a stopped service keeps its "
        "unprocessed events that long, the topics' own retention; a group left by a test or an old deployment "
        "stops blocking after it.")
    topic_erasure_ignore_groups: list[str] = Field(
        default_factory=list, description="Empty consumer groups never waited for (fnmatch patterns, e.g. "
        "\"console-e2e-*\"); a group with members is always waited for on "
        "the partitions it is assigned.")
    import_max_rows: int = Field(default=100_000, ge=1)
    import_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)

    def upload_body_limits(self) -> dict[str, int]:
        return {"/v1/leads:import": self.import_max_bytes}

    config_cache_seconds: float = Field(default=5.0, ge=0,
                                        description="How long scoring weights and models are cached in memory.")
