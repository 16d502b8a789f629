"""allocator settings: environment variables prefixed ALLOCATOR_ (broker, database and cache addresses may
also come from the shared TELESALES_ prefix)."""

from __future__ import annotations

import re

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from telesales_runtime.settings import TimeZoneName, ZonedServiceSettings

E164 = re.compile(r"\+[1-9]\d{7,14}")


class AllocatorSettings(ZonedServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="ALLOCATOR_")

    service_name: str = "allocator"
    http_port: int = 8102
    mongo_db: str = "allocator"
    consumer_group: str = "allocator"
    timezone: TimeZoneName = Field(default="Asia/Shanghai", description="Time zone of the floor: days worked, "
                                   "quota periods and grading weeks are counted in it.")
    batch_max_records: int = Field(default=500, ge=1, le=10_000)
    batch_wait_ms: int = Field(default=10, ge=1, le=1000,
                               description="Longest the consumer waits for records before it asks again (FastStream's "
                                           "batch_timeout_ms). When none came, FastStream also pauses that long before "
                                           "the next wait, so a qualified lead arriving then waits up to twice this "
                                           "(FastStream's default: 200 ms).")
    sweep_interval_seconds: float = Field(default=60, gt=0, description="How often the reclaim sweep runs.")
    sweep_batch_size: int = Field(default=1000, ge=1, le=10_000)
    sweep_enabled: bool = Field(default=True, description="Run the reclaim sweep and weekly grading in this "
                                "process (only the lease holder among replicas actually runs them).")
    grading_enabled: bool = True
    lease_seconds: float = Field(default=30, gt=1, description="A leader's lease on the sweep; another replica "
                                 "takes over this long after the leader stops renewing it.")
    config_cache_seconds: float = Field(default=5.0, ge=0, description="How long pools, tiers and policy are "
                                        "cached in memory.")
    agent_cache_seconds: float = Field(default=2.0, ge=0, description="How long an agent's roster record is "
                                       "cached to check who acts (X-Actor-Id); claims read the agent fresh.")
    claim_lock_seconds: float = Field(default=5.0, gt=0, description="Longest a claim may hold an agent's lock.")
    access_log_retention_days: int = Field(default=365, ge=1, le=3650, description="How long the access log "
                                           "(who saw which number in full) keeps a record.")
    unmask_budget_per_hour: int = Field(default=200, ge=0, description="Full phone numbers and names one user "
                                        "may see per hour, counted across replicas and services in Redis; past "
                                        "it answers are masked and the user's supervisors are told.")
    # Calls without the number (README "Calls without the number"): the adapters a tenant's policy may name.
    privacy_simulated_numbers: str = Field(default="", description="The simulated privacy provider's middle "
                                           "numbers (E.164, comma-separated); empty: it has none, every binding "
                                           "is refused as pool exhausted. Development and tests only.")
    privacy_http_url: AnyHttpUrl | None = Field(default=None, description="Base URL of the HTTP number-privacy "
                                                "provider (POST {url}/bindings, DELETE {url}/bindings/{id}); "
                                                "unset: tenants cannot use `http`. From a Secret in k8s.")
    privacy_http_token: SecretStr | None = Field(default=None, description="Bearer token sent to the HTTP "
                                                 "provider. From a Secret in k8s.")
    privacy_http_timeout_seconds: float = Field(default=3.0, gt=0, le=30, description="Longest wait for the "
                                                "HTTP provider's answer; past it the dial answers 504.")
    retention_interval_seconds: float = Field(default=3600, gt=0, description="How often the retention sweep "
                                              "looks for closed leads past their tenant's personal_data_retention_days.")
    retention_batch_size: int = Field(default=500, ge=1, le=1000, description="Leads per retention erasure request.")
    import_max_rows: int = Field(default=20_000, ge=1)
    import_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    @field_validator("privacy_simulated_numbers")
    @classmethod
    def _e164_numbers(cls, value: str) -> str:
        numbers = [n.strip() for n in value.split(",") if n.strip()]
        wrong = [n for n in numbers if not E164.fullmatch(n)]
        if wrong:
            raise ValueError(f"middle numbers must be E.164 (+ and 8-15 digits): {', '.join(wrong)}")
        if len(set(numbers)) != len(numbers):
            raise ValueError("middle numbers must be distinct")
        return ",".join(numbers)

    def simulated_numbers(self) -> tuple[str, ...]:
        return tuple(n for n in self.privacy_simulated_numbers.split(",") if n)

    def upload_body_limits(self) -> dict[str, int]:
        return {"/v1/agents:import": self.import_max_bytes}

