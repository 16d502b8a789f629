"""The console's pure rules: PKCE, where a sign-in may return to, CSRF decisions, the CSP, roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from console import domain
from telesales_runtime.errors import DomainError

PUBLIC = "https://console.example.com"


def test_pkce_challenge_is_the_rfc_7636_example() -> None:
    # RFC 7636 appendix B.
    assert domain.pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_refuses_a_short_verifier() -> None:
    with pytest.raises(ValueError):
        domain.pkce_challenge("too-short")


@pytest.mark.parametrize("value", ["/", "/leads/42?tab=calls#notes", "/a/b"])
def test_safe_next_keeps_same_origin_paths(value: str) -> None:
    assert domain.safe_next(value) == value


@pytest.mark.parametrize("value", [None, "", "https://evil.example", "//evil.example/x", "/\\evil.example",
                                   "evil", "/ok\r\nSet-Cookie: x=1", "javascript:alert(1)", "/\tx", "/" + "a" * 2001])
def test_safe_next_refuses_anything_that_leaves_the_origin(value: str | None) -> None:
    assert domain.safe_next(value) == "/"


def test_csrf_safe_methods_pass_without_token() -> None:
    assert domain.csrf_refusal(method="GET", origin="https://evil.example", sent_token=None, session_token="t",
                               public_url=PUBLIC) is None


def test_csrf_needs_the_session_token() -> None:
    assert domain.csrf_refusal(method="POST", origin=None, sent_token=None, session_token="t", public_url=PUBLIC)
    assert domain.csrf_refusal(method="DELETE", origin=None, sent_token="x", session_token="t", public_url=PUBLIC)
    assert domain.csrf_refusal(method="POST", origin=None, sent_token="t", session_token="t",
                               public_url=PUBLIC) is None


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://console.example.com",
                                    "https://console.example.com:8443"])
def test_csrf_refuses_another_origin_even_with_the_token(origin: str) -> None:
    assert domain.csrf_refusal(method="PUT", origin=origin, sent_token="t", session_token="t", public_url=PUBLIC)


def test_csrf_accepts_the_consoles_origin_in_any_spelling() -> None:
    for origin in ("https://console.example.com", "HTTPS://Console.Example.com:443"):
        assert domain.csrf_refusal(method="PATCH", origin=origin, sent_token="t", session_token="t",
                                   public_url=PUBLIC + "/") is None


def test_content_security_policy() -> None:
    nonce = domain.random_token(18)
    policy = domain.content_security_policy(nonce, form_targets=["https://idp.example.com/realms/floor"])
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == f"'self' 'nonce-{nonce}'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self' https://idp.example.com"
    assert directives["img-src"] == "'self' data: blob:"


def test_content_security_policy_refuses_a_weak_nonce() -> None:
    with pytest.raises(ValueError):
        domain.content_security_policy("abc")
    with pytest.raises(ValueError):
        domain.content_security_policy("a' 'unsafe-inline" + "x" * 16)


def test_nonce_goes_into_the_meta_of_index_html() -> None:
    html = '<html><head><meta charset="utf-8"><meta name="csp-nonce" content="__CSP_NONCE__"></head></html>'
    assert '<meta name="csp-nonce" content="N0nce">' in domain.with_nonce(html, "N0nce")
    assert "__CSP_NONCE__" not in domain.with_nonce(html, "N0nce")
    added = domain.with_nonce('<html><head lang="zh"><title>x</title></head></html>', "N0nce")
    assert re.search(r'<head lang="zh"><meta name="csp-nonce" content="N0nce">', added)


@pytest.mark.parametrize(("role", "roles"), [("agent", ("agent",)), ("supervisor", ("supervisor",)),
                                             ("manager", ("supervisor",))])
def test_roster_roles_map_to_token_roles(role: str, roles: tuple[str, ...]) -> None:
    assert domain.token_roles(role) == roles


def test_an_unknown_roster_role_cannot_sign_in() -> None:
    with pytest.raises(DomainError) as raised:
        domain.token_roles("admin")
    assert raised.value.code == "unknown_role"


def test_session_ends_at_expiry_or_idleness() -> None:
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    times = domain.SessionTimes(started_at=start, expires_at=start + timedelta(hours=10),
                                last_used_at=start + timedelta(hours=1), idle=timedelta(minutes=120))
    assert times.ends_at == start + timedelta(hours=3)
    assert times.alive(start + timedelta(hours=2, minutes=59))
    assert not times.alive(start + timedelta(hours=3))
    late = domain.SessionTimes(started_at=start, expires_at=start + timedelta(hours=10),
                               last_used_at=start + timedelta(hours=9, minutes=30), idle=timedelta(minutes=120))
    assert late.ends_at == start + timedelta(hours=10)


def test_token_refresh_margin() -> None:
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    margin = timedelta(seconds=60)
    assert domain.token_needs_refresh(now + timedelta(seconds=59), now, margin)
    assert not domain.token_needs_refresh(now + timedelta(seconds=61), now, margin)
    assert not domain.token_needs_refresh(None, now, margin)


def test_call_event_id_is_the_same_for_a_retry_only() -> None:
    one = domain.call_event_id(tenant="t", agent_id="li-si", call_id="c-1")
    assert one == domain.call_event_id(tenant="t", agent_id="li-si", call_id="c-1")
    assert one != domain.call_event_id(tenant="t", agent_id="li-si", call_id="c-2")
    assert one != domain.call_event_id(tenant="t", agent_id="wang-wu", call_id="c-1")
    assert one != domain.call_event_id(tenant="u", agent_id="li-si", call_id="c-1")


def test_session_key_is_not_the_session_id() -> None:
    session_id = domain.random_token()
    assert domain.session_key(session_id) != session_id
    assert len(domain.session_key(session_id)) == 64
