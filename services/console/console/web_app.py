"""Serves the built web app (Vite's output in settings.web_dist): /assets/* with a year's cache (their names
carry a content hash), as the build's Brotli or gzip copy where the browser takes one; index.html never
cached and with a fresh CSP nonce in `<meta name="csp-nonce">`, and index.html for every other GET path
the app routes itself (history fallback). Paths of the API (/api, /v1, /auth, health, docs) are never the
app: an unknown one is a 404 problem. The router's catch-all route must be the application's last."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from telesales_runtime.http import Problem

from . import domain

NOT_THE_APP = ("api", "v1", "auth", "healthz", "readyz", "metrics", "docs", "redoc", "openapi.json")
ASSET_CACHE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"

web_router = APIRouter(include_in_schema=False)


class WebDist:
    """The built app on disk; index.html read again only when it changes (a rebuild)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._index: tuple[float, str] | None = None

    def index_html(self) -> str:
        path = self.root / "index.html"
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            raise Problem(503, "Web app not built", f"There is no built web app in {self.root}: run `npm ci && "
                          "npm run build` in services/console/web (or set CONSOLE_WEB_DIST).",
                          code="web_not_built") from None
        if self._index is None or self._index[0] != mtime:
            self._index = (mtime, path.read_text(encoding="utf-8"))
        return self._index[1]

    def file(self, relative: str) -> Path | None:
        """A file of the build at `relative`, never outside it."""
        root = self.root.resolve()
        candidate = (root / relative).resolve()
        if candidate != root and root in candidate.parents and candidate.is_file():
            return candidate
        return None


def _dist(request: Request) -> WebDist:
    return request.app.state.web_dist


def _index(request: Request) -> HTMLResponse:
    html = domain.with_nonce(_dist(request).index_html(), request.state.csp_nonce)
    return HTMLResponse(html, headers={"Cache-Control": NO_CACHE})


@web_router.api_route(domain.ASSETS_PATH + "{path:path}", methods=["GET", "HEAD"])
async def asset(path: str, request: Request) -> Response:
    dist = _dist(request)
    found = dist.file(f"assets/{path}")
    if found is None:
        raise Problem(404, "Not Found", f"There is no asset {path!r}.", code="not_found")
    media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": ASSET_CACHE, "Vary": "Accept-Encoding"}
    accepted = domain.accepted_codings(request.headers.get("accept-encoding"))
    for coding, suffix in domain.PRECOMPRESSED:
        copy = dist.file(f"assets/{path}{suffix}") if coding in accepted else None
        if copy is not None:  # the build's compressed copy (the gzip middleware leaves an encoded answer be)
            return FileResponse(copy, media_type=media_type, headers={**headers, "Content-Encoding": coding})
    return FileResponse(found, media_type=media_type, headers=headers)


@web_router.api_route("/", methods=["GET", "HEAD"])
async def index(request: Request) -> Response:
    return _index(request)


@web_router.api_route("/{path:path}", methods=["GET", "HEAD"])
async def app_route(path: str, request: Request) -> Response:
    if path.split("/", 1)[0] in NOT_THE_APP:
        raise Problem(404, "Not Found", f"There is no route /{path}.", code="not_found")
    if path == "index.html":
        return _index(request)
    found = _dist(request).file(path)  # favicon.ico, robots.txt and the like at the build's top
    if found is not None:
        return FileResponse(found, headers={"Cache-Control": NO_CACHE})
    return _index(request)
