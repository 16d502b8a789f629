"""Settings base: every service reads its own prefix first (e.g. LEAD_INTAKE_), then the shared
TELESALES_ prefix the local stack and the Kubernetes ConfigMaps set for broker, database and cache."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

SHARED_ENV_PREFIX = "TELESALES_"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="SERVICE_")

    service_name: str = "service"
    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_client_id: str | None = None
    kafka_create_topics: bool = Field(default=True, description="Create missing topics at start (dev, tests).")
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000, description="How long the broker waits for a "
                                          "consumer that stopped answering before handing its partitions over.")
    kafka_fetch_max_wait_ms: int = Field(default=100, ge=1, le=5000, description="Longest a fetch waits for "
                                         "records. The local broker (Tansu) answers a waiting fetch only at this "
                                         "deadline even when records arrive sooner, so it bounds event latency.")
    mongo_uri: str = "mongodb://127.0.0.1:27117/?replicaSet=rs0"
    mongo_db: str = Field(default="telesales", description="The service's own database: every service sets "
                          "its own default, and it is overridden per service (e.g. ALLOCATOR_MONGO_DB), never "
                          "through the shared prefix, so two services never share collections.")
    redis_url: str = "redis://127.0.0.1:16379/0"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True
    default_tenant: str = "default"
    event_source: str | None = Field(default=None, description="CloudEvents source of emitted events; "
                                     "/services/<service_name> when unset.")
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    outbox_linger_seconds: float = Field(default=0.01, ge=0, le=1, description="After a write, how long the "
                                         "relay waits for more before it publishes: fewer, larger passes.")
    outbox_batch_size: int = Field(default=2000, ge=1)

    @property
    def source(self) -> str:
        return self.event_source or f"/services/{self.service_name}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared_env = EnvSettingsSource(settings_cls, env_prefix=SHARED_ENV_PREFIX)
        return (init_settings, env_settings, shared_env, dotenv_settings, file_secret_settings)


def known_time_zone(value: str) -> str:
    """An IANA time zone name (e.g. Asia/Shanghai) that this machine knows; refused otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {value!r}") from error
    return value


TimeZoneName = Annotated[str, AfterValidator(known_time_zone)]


class ZonedServiceSettings(ServiceSettings):
    """Settings of a service that counts days (or weeks) in the floor's time zone. A service redeclares
    `timezone` (a TimeZoneName) to say what it counts in it."""

    timezone: TimeZoneName = Field(default="Asia/Shanghai", description="Time zone of the floor.")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
