"""Bearer tokens: what the verifier accepts (HS256 with the secret, RS256 with a public key or a JWKS),
what it refuses, the object-rule helpers, masking, and the token a service sends to another."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from threading import Thread

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from telesales_runtime.auth import (
    LOCAL_AUDIENCE,
    LOCAL_HS256_SECRET,
    LOCAL_ISSUER,
    Principal,
    ServiceTokenAuth,
    TokenVerifier,
    mint_token,
    require_self,
    require_team,
)
from telesales_runtime.http import Problem
from telesales_runtime.masking import mask_email, mask_name, mask_phone
from telesales_runtime.settings import ServiceSettings


def rs256(claims: dict[str, object], key: rsa.RSAPrivateKey, kid: str | None = None) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid} if kid else None)


def claims(**change: object) -> dict[str, object]:
    now = int(time.time())
    return {"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "sub": "li-si", "iat": now, "exp": now + 60,
            "roles": ["agent"], "tenant": "acme", "team": "mba"} | change


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_a_local_token_names_who_calls() -> None:
    verifier = TokenVerifier(ServiceSettings())
    principal = verifier.verify(mint_token("li-si", "agent", tenant="acme", team="mba"))
    assert principal == Principal("li-si", frozenset({"agent"}), "acme", "mba")
    assert not principal.trusted and principal.has("agent", "operator")
    unknown_roles = verifier.verify(mint_token("x", ["agent", "root"]))
    assert unknown_roles.roles == frozenset({"agent"})  # roles the platform does not know are dropped


@pytest.mark.parametrize("token", [
    mint_token("li-si", "agent", ttl_seconds=-120),  # expired beyond the leeway
    mint_token("li-si", "agent", secret="another-secret-another-secret-12345"),
    mint_token("li-si", "agent", audience="other"),
    mint_token("li-si", "agent", issuer="other"),
    mint_token("li-si", "agent", tenant="Not A Tenant"),
    jwt.encode({k: v for k, v in claims().items() if k != "exp"}, LOCAL_HS256_SECRET, algorithm="HS256"),
    jwt.encode(claims(), LOCAL_HS256_SECRET + "x" * 16, algorithm="HS512"),  # not an accepted algorithm
    jwt.encode(claims(roles="agent", sub=""), LOCAL_HS256_SECRET, algorithm="HS256"),
    "eyJhbGciOiJub25lIn0." + jwt.utils.base64url_encode(json.dumps(claims()).encode()).decode() + ".",
])
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(jwt.PyJWTError):
        TokenVerifier(ServiceSettings()).verify(token)


def test_rs256_with_a_public_key_and_no_shared_secret(private_key: rsa.RSAPrivateKey) -> None:
    pem = private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    verifier = TokenVerifier(ServiceSettings(auth_hs256_secret="", auth_rs256_public_key=pem, auth_mode="production"))
    assert verifier.verify(rs256(claims(), private_key)).sub == "li-si"
    with pytest.raises(jwt.PyJWTError):  # HS256 tokens have no secret to be checked with
        verifier.verify(mint_token("li-si", "agent"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.PyJWTError):
        verifier.verify(rs256(claims(), other))


def test_rs256_keys_from_a_jwks(private_key: rsa.RSAPrivateKey) -> None:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    body = json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
    fetched: list[str] = []

    class Issuer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Issuer)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
        verifier = TokenVerifier(ServiceSettings(auth_hs256_secret="", auth_jwks_url=url))
        assert verifier.verify(rs256(claims(), private_key, kid="k1")).tenant == "acme"
        assert verifier.verify(rs256(claims(sub="wang-wu"), private_key, kid="k1")).sub == "wang-wu"
        assert fetched == ["/.well-known/jwks.json"]  # the keys are cached
        with pytest.raises(jwt.PyJWTError):
            verifier.verify(rs256(claims(), private_key, kid="unknown"))
    finally:
        server.shutdown()


def test_object_rules() -> None:
    agent = Principal("li-si", frozenset({"agent"}), "acme", "mba")
    supervisor = Principal("boss", frozenset({"supervisor"}), "acme", "mba")
    require_self(agent, "li-si")
    with pytest.raises(Problem) as refused:
        require_self(agent, "wang-wu")
    assert (refused.value.status, refused.value.extensions["code"]) == (403, "not_yours")
    require_team(supervisor, "wang-wu", "mba")
    with pytest.raises(Problem):
        require_team(supervisor, "wang-wu", "other-team")
    require_team(Principal("m", frozenset({"service"}), "acme"), "wang-wu", None)


def test_masks() -> None:
    assert mask_phone("+8613812345678") == "+86138****5678"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("1234") == "12**" and mask_phone(None) is None
    assert (mask_name("张伟"), mask_name("欧阳娜娜"), mask_name(None)) == ("张**", "欧**", None)
    assert mask_email("zhangwei@example.cn") == "z**@example.cn"


async def test_a_service_sends_its_own_short_lived_service_token_or_the_configured_one() -> None:
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200))
    settings = ServiceSettings(service_name="marketplace")
    async with httpx.AsyncClient(transport=transport, auth=ServiceTokenAuth(settings)) as http:
        await http.get("http://ledger/v1/audit")
    principal = TokenVerifier(settings).verify(seen[-1].headers["Authorization"].removeprefix("Bearer "))
    assert principal == Principal("marketplace", frozenset({"service"}), "default")
    configured = ServiceSettings(auth_service_token="given-token")
    async with httpx.AsyncClient(transport=transport, auth=ServiceTokenAuth(configured)) as http:
        await http.get("http://ledger/v1/audit")
    assert seen[-1].headers["Authorization"] == "Bearer given-token"


# ---- verified tokens kept until they expire --------------------------------------------------------------


def test_a_verified_token_is_known_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    from telesales_runtime.auth import VerifiedTokens

    verifier = TokenVerifier(ServiceSettings())
    tokens = VerifiedTokens(verifier)
    token = mint_token("li-si", "agent", tenant="acme", ttl_seconds=60)
    assert tokens.cached(token) is None
    principal = tokens.remember(token, verifier.verify_claims(token))
    assert tokens.cached(token) == principal == verifier.verify(token)
    assert tokens.cached(mint_token("wang-wu", "agent", tenant="acme", ttl_seconds=60)) is None
    later = time.time() + 60 + verifier.leeway + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert tokens.cached(token) is None  # expired: verified again (and refused: the verifier's own check)


def test_the_verified_tokens_kept_are_bounded() -> None:
    from telesales_runtime.auth import VerifiedTokens

    verifier = TokenVerifier(ServiceSettings())
    tokens = VerifiedTokens(verifier, size=2)
    minted = [mint_token(f"agent-{n}", "agent", ttl_seconds=60) for n in range(3)]
    for token in minted:
        tokens.remember(token, verifier.verify_claims(token))
    assert tokens.cached(minted[0]) is None  # the oldest went first
    assert tokens.cached(minted[1]) is not None and tokens.cached(minted[2]) is not None
