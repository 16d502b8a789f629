"""The console's rules, pure (no I/O): who a roster member signs in as, PKCE, where a sign-in may return to,
when an unsafe request is refused as cross-site, the Content-Security-Policy, session expiry, and the
event id of a logged call."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from telesales_runtime.errors import DomainError

# ---- dev sign-in: roster role -> token roles ----------------------------------------------------------

# A manager works in the console as a supervisor does (the services know no "manager" role).
TOKEN_ROLES_OF_ROSTER_ROLE: Mapping[str, tuple[str, ...]] = {
    "agent": ("agent",), "supervisor": ("supervisor",), "manager": ("supervisor",)}


def token_roles(roster_role: str) -> tuple[str, ...]:
    """The token roles of a roster member; DomainError `unknown_role` for a role the console has no use for."""
    roles = TOKEN_ROLES_OF_ROSTER_ROLE.get(roster_role)
    if roles is None:
        raise DomainError("unknown_role", f"The roster role {roster_role!r} cannot sign in to the console.")
    return roles


# ---- PKCE (RFC 7636), state and nonce -----------------------------------------------------------------


def random_token(nbytes: int = 32) -> str:
    """URL-safe random text: session ids, CSRF tokens, state, nonce, PKCE verifiers, CSP nonces."""
    return secrets.token_urlsafe(nbytes)


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE code verifier: BASE64URL(SHA256(verifier)) without padding."""
    if not re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier):
        raise ValueError("a PKCE verifier is 43-128 unreserved characters (RFC 7636 4.1)")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def session_key(session_id: str) -> str:
    """What the database keeps of a session id: its SHA-256, so a copy of the database holds no cookie."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a secret the client sent with the one kept."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


# ---- where a sign-in returns to ---------------------------------------------------------------------


def safe_next(value: str | None, default: str = "/") -> str:
    """A same-origin path to return to after sign-in: `/path?query#fragment` only. Anything that could
    leave the origin (`//host`, `/\\host`, `https://...`, control characters) becomes `default`."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


# ---- cross-site request forgery ---------------------------------------------------------------------

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, lowercased, without the default port."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    if port is None or (scheme, port) in {("http", 80), ("https", 443)}:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_allowed(origin: str | None, public_url: str) -> bool:
    """An Origin header, when sent, must be the console's own (`null` and other sites are refused)."""
    if origin is None:
        return True
    return origin.strip().lower() != "null" and origin_of(origin) == origin_of(public_url)


def csrf_refusal(*, method: str, origin: str | None, sent_token: str | None, session_token: str,
                 public_url: str) -> str | None:
    """Why an unsafe request made with the session cookie is refused (None: accepted). Safe methods pass."""
    if method.upper() not in UNSAFE_METHODS:
        return None
    if not origin_allowed(origin, public_url):
        return f"Origin {origin!r} is not the console's ({origin_of(public_url)})."
    if not same_secret(sent_token, session_token):
        return "Send the session's CSRF token (GET /v1/session) in the X-CSRF-Token header."
    return None


# ---- Content-Security-Policy ------------------------------------------------------------------------


def content_security_policy(nonce: str, *, form_targets: Iterable[str] = ()) -> str:
    """The policy of every response: only the console's own scripts; styles its own or carrying `nonce`
    (the CSS-in-JS styles of the web app); forms may post to the console and to `form_targets` (the
    identity provider)."""
    if not re.fullmatch(r"[A-Za-z0-9+/_=-]{16,}", nonce):
        raise ValueError("a CSP nonce is at least 16 base64 characters")
    forms = " ".join(["'self'", *sorted({origin_of(t) for t in form_targets})])
    return "; ".join([
        "default-src 'self'", "script-src 'self'", f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data: blob:", "media-src 'self' blob:", "connect-src 'self'", "font-src 'self'",
        "object-src 'none'", "base-uri 'self'", "frame-ancestors 'none'", f"form-action {forms}",
    ])


SECURITY_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}

_CSP_META = re.compile(r"<meta\s+name=[\"']csp-nonce[\"'][^>]*>", re.IGNORECASE)


def with_nonce(index_html: str, nonce: str) -> str:
    """index.html with `<meta name="csp-nonce" content="<nonce>">` (replaced, or added to <head>)."""
    meta = f'<meta name="csp-nonce" content="{nonce}">'
    if _CSP_META.search(index_html):
        return _CSP_META.sub(meta, index_html, count=1)
    return re.sub(r"<head([^>]*)>", lambda m: f"<head{m.group(1)}>{meta}", index_html, count=1, flags=re.IGNORECASE)


ASSETS_PATH = "/assets/"  # the built app's hashed files: the same for everybody, served with no session
PRECOMPRESSED = (("br", ".br"), ("gzip", ".gz"))  # the build's copies of an asset, in the order preferred


def accepted_codings(accept_encoding: str | None) -> set[str]:
    """The content codings an Accept-Encoding header allows (RFC 9110 12.5.3): those listed without q=0, and
    under `*` every one not refused by name."""
    allowed: set[str] = set()
    refused: set[str] = set()
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0  # a quality that cannot be read allows nothing
        (allowed if quality > 0 else refused).add(coding)
    if "*" in allowed:
        allowed |= {coding for coding, _ in PRECOMPRESSED}
    return allowed - refused - {"*"}


# ---- sessions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionTimes:
    started_at: datetime
    expires_at: datetime
    last_used_at: datetime
    idle: timedelta

    @property
    def ends_at(self) -> datetime:
        """The session ends at its expiry or after being unused `idle` long, whichever comes first."""
        return min(self.expires_at, self.last_used_at + self.idle)

    def alive(self, now: datetime) -> bool:
        return now < self.ends_at


def token_needs_refresh(token_expires_at: datetime | None, now: datetime, margin: timedelta) -> bool:
    """Refresh (or re-mint) a token that expires within `margin`."""
    return token_expires_at is not None and token_expires_at - margin <= now


# ---- logged calls -----------------------------------------------------------------------------------

_CALL_EVENT_IDS = uuid.UUID("2d8f5a3e-7c41-4e0b-9b6d-5f3a1c9e8b72")  # namespace of calls.logged.v1 event ids


def call_event_id(*, tenant: str, agent_id: str, call_id: str) -> str:
    """The id of the calls.logged.v1 event of a call: the same for every retry, so it is counted once."""
    return str(uuid.uuid5(_CALL_EVENT_IDS, f"{tenant}|{agent_id}|{call_id}"))
