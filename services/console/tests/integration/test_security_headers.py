"""Every response carries the CSP and security headers; index.html gets a fresh nonce; the built app is
served with the right caching and history fallback; no build is a 503 problem."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

from console_support import Upstream, console_settings, running_console


def _nonce(policy: str) -> str:
    match = re.search(r"style-src 'self' 'nonce-([^']+)'", policy)
    assert match, policy
    return match.group(1)


async def test_index_html_carries_the_nonce_of_its_policy(infra: Any, tmp_path: Path) -> None:
    async with running_console(console_settings(infra, tmp_path), Upstream()) as http:
        first, second = await http.get("/"), await http.get("/leads/42")  # history fallback
        for page in (first, second):
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            policy = page.headers["content-security-policy"]
            assert f'<meta name="csp-nonce" content="{_nonce(policy)}">' in page.text
            assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
            assert page.headers["cache-control"] == "no-cache"
            assert page.headers["x-content-type-options"] == "nosniff"
            assert page.headers["x-frame-options"] == "DENY"
            assert page.headers["referrer-policy"] == "same-origin"
        assert _nonce(first.headers["content-security-policy"]) != _nonce(second.headers["content-security-policy"])

        asset = await http.get("/assets/index-3f2a1b.js", headers={"Accept-Encoding": "gzip"})
        assert asset.status_code == 200 and "floor console" in asset.text
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-encoding"] == "gzip"
        assert (await http.get("/assets/missing.js")).status_code == 404
        (tmp_path / "secret.txt").write_text("not served")
        dist = http.app.state.web_dist  # type: ignore[attr-defined]
        assert dist.file("../secret.txt") is None and dist.file("assets/../../secret.txt") is None
        assert dist.file("assets/index-3f2a1b.js") is not None


async def test_assets_are_served_as_the_builds_compressed_copies(infra: Any, tmp_path: Path) -> None:
    settings = console_settings(infra, tmp_path)
    assets = settings.web_dist / "assets"
    original = (assets / "index-3f2a1b.js").read_bytes()
    (assets / "index-3f2a1b.js.br").write_bytes(b"brotli copy")  # sent as it is: never decoded here
    (assets / "index-3f2a1b.js.gz").write_bytes(gzip.compress(b"console.log('the gzip copy');"))
    async with running_console(settings, Upstream()) as http:
        async with http.stream("GET", "/assets/index-3f2a1b.js", headers={"Accept-Encoding": "gzip, br"}) as br:
            assert br.headers["content-encoding"] == "br" and b"".join([c async for c in br.aiter_raw()]) == b"brotli copy"
            assert br.headers["content-type"].startswith("text/javascript") and br.headers["vary"] == "Accept-Encoding"
            assert br.headers["cache-control"] == "public, max-age=31536000, immutable"
        gz = await http.get("/assets/index-3f2a1b.js", headers={"Accept-Encoding": "br;q=0, gzip"})
        assert gz.headers["content-encoding"] == "gzip" and gz.text == "console.log('the gzip copy');"
        plain = await http.get("/assets/index-3f2a1b.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == original
        (assets / "index-3f2a1b.js.gz").unlink()  # no copy: compressed on the way, as any other answer
        fresh = await http.get("/assets/index-3f2a1b.js", headers={"Accept-Encoding": "gzip"})
        assert fresh.headers["content-encoding"] == "gzip" and fresh.content == original


async def test_api_paths_are_never_the_app(infra: Any, tmp_path: Path) -> None:
    async with running_console(console_settings(infra, tmp_path), Upstream()) as http:
        for path in ("/v1/nothing", "/auth/nothing", "/api", "/metricsx/../v1/x"):
            answer = await http.get(path)
            assert answer.status_code in (401, 404), (path, answer.status_code)
            assert answer.headers["content-type"] == "application/problem+json", path
            assert "content-security-policy" in answer.headers
        health = await http.get("/healthz")
        assert health.status_code == 200 and "content-security-policy" in health.headers


async def test_without_a_build_the_app_is_a_503_problem(infra: Any, tmp_path: Path) -> None:
    settings = console_settings(infra, tmp_path, web_dist=tmp_path / "not-built")
    async with running_console(settings, Upstream()) as http:
        answer = await http.get("/")
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert "npm run build" in answer.json()["detail"]
