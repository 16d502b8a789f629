"""Settings base: every service reads its own prefix first (e.g. LEAD_INTAKE_), then the shared
TELESALES_ prefix the local stack and the Kubernetes ConfigMaps set for broker, database and cache."""

from __future__ import annotations

from pydantic import Field
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
