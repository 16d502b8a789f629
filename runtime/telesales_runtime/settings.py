"""Settings base: every service reads its own prefix first (e.g. LEAD_INTAKE_), then the shared
TELESALES_ prefix the local stack and the Kubernetes ConfigMaps set for broker, database and cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from .auth_defaults import LOCAL_AUDIENCE, LOCAL_HS256_SECRET, LOCAL_ISSUER
from .pii_crypto import Keyring, load_keyring

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
                                          "consumer that stopped answering before handing its partitions over. "
                                          "Within the broker's group.min.session.timeout.ms and "
                                          "group.max.session.timeout.ms (6 s to 30 min by default): a consumer "
                                          "asking for less is refused (InvalidSessionTimeoutError).")
    kafka_heartbeat_interval_ms: int = Field(default=500, ge=100, description="How often a consumer tells the "
                                             "group coordinator it is alive, and so how soon it learns of a "
                                             "rebalance (a consumer joining or leaving): each consumer a service "
                                             "starts in a group waits for the others' next heartbeat. At most a "
                                             "third of kafka_session_timeout_ms.")
    kafka_fetch_max_wait_ms: int = Field(default=100, ge=1, le=5000, description="Longest a fetch waits for "
                                         "records when fewer than its minimum have arrived.")
    # Kafka transport security (see README "Kafka security"): every Kafka client of a service (its broker,
    # outbox relay producers, topic creation, dead-letter replay) is built from these.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS).")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*.")
    kafka_sasl_username: str | None = Field(default=None, description="SASL user (SASL_* protocols only).")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password (SASL_* only); "
                                                  "from a Secret, never logged.")
    kafka_ssl_ca_file: Path | None = Field(default=None, description="PEM file of the CA(s) that signed the "
                                           "broker's certificate (SSL, SASL_SSL); the system's CAs when unset.")
    kafka_ssl_cert_file: Path | None = Field(default=None, description="PEM client certificate for mutual TLS "
                                             "(with kafka_ssl_key_file).")
    kafka_ssl_key_file: Path | None = Field(default=None, description="PEM private key of kafka_ssl_cert_file.")
    kafka_ssl_key_password: SecretStr | None = Field(default=None, description="Password of an encrypted "
                                                     "kafka_ssl_key_file.")
    kafka_ssl_check_hostname: bool = Field(default=True, description="Check that the broker's certificate names "
                                           "the host connected to (turn off only for tests).")

    @model_validator(mode="after")
    def _check_kafka_heartbeat(self) -> Self:
        if self.kafka_heartbeat_interval_ms * 3 > self.kafka_session_timeout_ms:
            raise ValueError(f"kafka_heartbeat_interval_ms={self.kafka_heartbeat_interval_ms} is more than a third of "
                             f"kafka_session_timeout_ms={self.kafka_session_timeout_ms}: a consumer would be dropped "
                             "from its group between two heartbeats")
        return self

    @model_validator(mode="after")
    def _check_kafka_security(self) -> Self:
        """Refuse settings that cannot work, at start, with the variable to fix (instead of a client that
        hangs or silently connects without the security asked for)."""
        protocol = self.kafka_security_protocol
        sasl, tls = protocol.startswith("SASL_"), protocol.endswith("SSL")
        problems = []
        if sasl and not self.kafka_sasl_username:
            problems.append(f"kafka_security_protocol={protocol} needs kafka_sasl_username")
        if sasl and (self.kafka_sasl_password is None or not self.kafka_sasl_password.get_secret_value()):
            problems.append(f"kafka_security_protocol={protocol} needs kafka_sasl_password")
        if not sasl and (self.kafka_sasl_username or self.kafka_sasl_password is not None):
            problems.append(f"kafka_sasl_username/kafka_sasl_password are set but kafka_security_protocol={protocol} "
                            "does not use SASL (SASL_PLAINTEXT or SASL_SSL)")
        files = {"kafka_ssl_ca_file": self.kafka_ssl_ca_file, "kafka_ssl_cert_file": self.kafka_ssl_cert_file,
                 "kafka_ssl_key_file": self.kafka_ssl_key_file}
        if not tls and any(path is not None for path in files.values()):
            problems.append(f"TLS files are set but kafka_security_protocol={protocol} does not use TLS (SSL or SASL_SSL)")
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            problems.append("kafka_ssl_cert_file and kafka_ssl_key_file go together (mutual TLS)")
        if self.kafka_ssl_key_password is not None and self.kafka_ssl_key_file is None:
            problems.append("kafka_ssl_key_password is set without kafka_ssl_key_file")
        for name, path in files.items():
            if path is not None and not path.is_file():
                problems.append(f"{name}={path} is not a readable file")
        if problems:
            raise ValueError("Kafka security settings: " + "; ".join(problems))
        return self

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
    # Bearer tokens (telesales_runtime.auth; README "Authentication"). Local runs: the well-known HS256
    # development secret; auth_mode=production refuses to start with it (set a secret of your own, an RS256
    # public key or a JWKS URL).
    auth_mode: Literal["local", "production"] = Field(default="local", description="production: refuse the "
                                                      "local development secret and short HS256 secrets.")
    auth_issuer: str = Field(default=LOCAL_ISSUER, description="Accepted `iss` of tokens.")
    auth_audience: str = Field(default=LOCAL_AUDIENCE, description="Accepted `aud` of tokens.")
    auth_hs256_secret: SecretStr | None = Field(default=SecretStr(LOCAL_HS256_SECRET), description="Shared "
                                                "secret of HS256 tokens (from a Secret); unset for RS256 only.")
    auth_rs256_public_key: str | None = Field(default=None, description="PEM public key of RS256 tokens.")
    auth_jwks_url: str | None = Field(default=None, description="JWKS URL of the token issuer (keys cached).")
    auth_algorithms: list[str] = Field(default=["HS256", "RS256"], description="Accepted `alg` of tokens.")
    auth_leeway_seconds: int = Field(default=30, ge=0, le=600, description="Clock skew allowed on exp/iat.")
    auth_service_token: SecretStr | None = Field(default=None, description="Token this service sends when it "
                                                 "calls another (role service); without one it signs its own "
                                                 "short-lived token with auth_hs256_secret.")

    @model_validator(mode="after")
    def _check_auth(self) -> Self:
        """A production deployment never accepts tokens signed with the published development secret."""
        secret = (self.auth_hs256_secret.get_secret_value() if self.auth_hs256_secret else None) or None
        if not (secret or self.auth_rs256_public_key or self.auth_jwks_url):
            raise ValueError("auth: set auth_hs256_secret, auth_rs256_public_key or auth_jwks_url")
        if self.auth_mode == "production" and secret is not None:
            if secret == LOCAL_HS256_SECRET:
                raise ValueError("auth_mode=production with the local development secret: set "
                                 "TELESALES_AUTH_HS256_SECRET to a secret of your own (or RS256/JWKS keys and "
                                 "an empty TELESALES_AUTH_HS256_SECRET)")
            if len(secret) < 32:
                raise ValueError("auth_mode=production needs an HS256 secret of at least 32 characters")
        return self

    # Encryption at rest of personal data (telesales_runtime.pii_crypto; README "Personal data"): the keyring of
    # the services that store phone numbers, names and emails, from the Secret telesales-pii-keys.
    pii_keyring_file: str | None = Field(default=None, description="Path of the mounted keyring JSON (Secret "
                                         "telesales-pii-keys); services storing personal data refuse to start "
                                         "without it or pii_keyring.")
    pii_keyring: SecretStr | None = Field(default=None, description="The keyring JSON itself (instead of a file).")
    pii_rotation_interval_seconds: float = Field(default=60, gt=0, description="How often the rotation job "
                                                 "re-seals documents under a key that is no longer active.")
    pii_rotation_batch_size: int = Field(default=500, ge=1, le=10_000, description="Documents per re-seal batch.")

    def pii_keyring_loaded(self) -> Keyring:
        """The keyring; PiiKeyError, naming the settings, when none is configured or it is malformed."""
        inline = self.pii_keyring.get_secret_value() if self.pii_keyring is not None else None
        return load_keyring(inline=inline, path=self.pii_keyring_file)

    event_source: str | None = Field(default=None, description="CloudEvents source of emitted events; "
                                     "/services/<service_name> when unset.")
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    outbox_linger_seconds: float = Field(default=0.01, ge=0, le=1, description="After a write, how long the "
                                         "relay waits for more before it publishes: fewer, larger passes.")
    outbox_batch_size: int = Field(default=2000, ge=1)
    gc_young_threshold: int = Field(default=50_000, ge=0, description="Allocations between two young-generation "
                                    "passes of Python's garbage collector (0: Python's default of 700); see "
                                    "telesales_runtime/memory.py.")
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest request body of a "
                                     "route; the file upload routes have their own (upload_body_limits).")
    http_max_json_depth: int = Field(default=32, ge=2, le=512, description="Deepest nesting of a JSON body.")

    def upload_body_limits(self) -> dict[str, int]:
        """Route path -> largest body, for the routes that take files larger than http_max_body_bytes."""
        return {}

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
