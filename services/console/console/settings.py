"""console settings: environment variables prefixed CONSOLE_ (broker, database, cache and the token issuer
may also come from the shared TELESALES_ prefix)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from telesales_contracts.roster import Identifier
from telesales_runtime.settings import ServiceSettings

WEB_DIST = Path(__file__).resolve().parents[1] / "web" / "dist"


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CONSOLE_")

    service_name: str = "console"
    http_port: int = 8106
    mongo_db: str = "console"
    consumer_group: str = "console"
    web_dist: Path = Field(default=WEB_DIST, description="The built web app (npm run build in web/).")
    public_url: str = Field(default="http://127.0.0.1:8106", description="Where browsers reach the console: "
                            "the origin unsafe requests must come from, and the base of the OIDC redirect URI.")
    # The five services, called with the signed-in user's token.
    lead_intake_url: str = "http://127.0.0.1:8101"
    allocator_url: str = "http://127.0.0.1:8102"
    ledger_url: str = "http://127.0.0.1:8103"
    marketplace_url: str = "http://127.0.0.1:8104"
    metrics_url: str = "http://127.0.0.1:8105"
    upstream_timeout_seconds: float = Field(default=15.0, gt=0)
    proxy_max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="Largest request body "
                                      "forwarded through /api/... (tip media uploads).")
    publish_timeout_seconds: float = Field(default=5.0, gt=0, description="How long POST /v1/calls waits for "
                                           "the broker to confirm before answering 503.")
    # Browser sessions.
    session_cookie_name: str = "ts_session"
    session_cookie_secure: bool = Field(default=False, description="Send the cookie over HTTPS only "
                                        "(production: true; the local stack serves plain HTTP).")
    session_hours: float = Field(default=10.0, gt=0, le=24 * 7, description="A session lasts a working day.")
    session_idle_minutes: float = Field(default=120.0, gt=0, description="A session unused this long ends.")
    # Sign-in. Development: a roster member by id (refused when auth_mode=production). Production: OpenID
    # Connect, authorization code with PKCE.
    dev_staff: dict[Identifier, Literal["operator", "auditor"]] = Field(
        default_factory=dict, description="Development sign-in of back-office staff, who are not on the floor's "
        "roster: staff id -> role (operator or auditor), e.g. {\"op-1\": \"operator\"} (JSON). Empty in "
        "production, where staff sign in with OpenID Connect.")
    oidc_issuer: str | None = Field(default=None, description="The identity provider's issuer URL "
                                    "(its /.well-known/openid-configuration is read).")
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, description="Confidential client's secret; unset "
                                           "for a public client (PKCE alone).")
    oidc_scopes: str = "openid profile offline_access"
    oidc_resource: str | None = Field(default=None, description="RFC 8707 resource indicator asked for with the "
                                      "code (providers that issue JWT access tokens per resource).")
    sign_in_minutes: float = Field(default=10.0, gt=0, le=60, description="How long a started sign-in "
                                   "(state, nonce, PKCE verifier) may take to come back.")
    token_refresh_margin_seconds: int = Field(default=60, ge=0, description="Refresh the session's token this "
                                              "long before it expires.")
    dialer_url: str | None = Field(default=None, description="Dialer URL template with {phone} and {lead_id}; "
                                   "a tel: link when unset. {phone} is the privacy provider's middle number when "
                                   "the tenant calls through one.")
    # The live channel.
    notification_retention_days: int = Field(default=30, ge=1, le=365)
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0, description="A comment line this often keeps "
                                         "proxies from closing an idle stream.")
    notification_channel: str = Field(default="console:notifications", description="Redis pub/sub channel "
                                      "every replica announces new notifications on and listens to.")
    batch_max_records: int = Field(default=500, ge=1, le=10_000, description="Records per consumed batch.")
    batch_wait_ms: int = Field(default=10, ge=1, le=1000,
                               description="Longest the consumer waits for records before it asks again (FastStream's "
                                           "batch_timeout_ms). When none came, FastStream also pauses that long before "
                                           "the next wait, so a notification arriving then waits up to twice this "
                                           "(FastStream's default: 200 ms).")

    @property
    def upstreams(self) -> dict[str, str]:
        """Service name (as in /api/<name>/...) -> base URL."""
        return {"lead-intake": self.lead_intake_url, "allocator": self.allocator_url, "ledger": self.ledger_url,
                "marketplace": self.marketplace_url, "metrics": self.metrics_url}

    def upload_body_limits(self) -> dict[str, int]:
        return {"/api/{service}/{path:path}": self.proxy_max_body_bytes}

    @model_validator(mode="after")
    def _check_sign_in(self) -> Self:
        if self.auth_mode == "production":
            if not (self.oidc_issuer and self.oidc_client_id):
                raise ValueError("auth_mode=production signs in with OpenID Connect: set CONSOLE_OIDC_ISSUER "
                                 "and CONSOLE_OIDC_CLIENT_ID")
            if self.dev_staff:
                raise ValueError("auth_mode=production has no development sign-in: unset CONSOLE_DEV_STAFF")
            if not self.session_cookie_secure:
                raise ValueError("auth_mode=production needs CONSOLE_SESSION_COOKIE_SECURE=true (HTTPS)")
        return self
