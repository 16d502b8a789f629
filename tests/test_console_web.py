"""The console's web app as a whole: its API types are generated from the services' current OpenAPI
documents, its component tests (Vitest) pass, and what a browser loads first stays small."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "services" / "console" / "web"
# What a browser downloads before the first screen (the entry script and what it preloads), gzipped.
INITIAL_JS_BUDGET_BYTES = 400 * 1024


def test_committed_openapi_documents_are_the_services_own() -> None:
    """The web app is typed from services/console/web/openapi/: a service whose API changed without `make
    openapi` would leave the app typed against an API that no longer is."""
    result = subprocess.run([sys.executable, str(REPO / "deploy" / "openapi_export.py"), "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_component_tests_pass() -> None:
    if not (WEB / "node_modules").is_dir():
        pytest.fail("the web app's packages are not installed: run `make web` (install.sh does)")
    result = subprocess.run(["npm", "test", "--silent"], cwd=WEB, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert re.search(r"Tests\s+\d+ passed", result.stdout + result.stderr), result.stdout[-2000:]


def initial_scripts(index_html: str) -> list[str]:
    """The scripts index.html makes the browser load at once: its module entry and modulepreloads."""
    entry = re.findall(r'<script[^>]+type="module"[^>]+src="([^"]+)"', index_html)
    preloads = re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"', index_html)
    return entry + preloads


def test_initial_javascript_stays_small() -> None:
    index = WEB / "dist" / "index.html"
    if not index.is_file():
        pytest.fail("the web app is not built: run `make web` (install.sh does)")
    scripts = initial_scripts(index.read_text(encoding="utf-8"))
    assert scripts, "index.html loads no module script"
    sizes = {src: len(gzip.compress((WEB / "dist" / src.lstrip("/")).read_bytes(), 9)) for src in scripts}
    total = sum(sizes.values())
    assert total <= INITIAL_JS_BUDGET_BYTES, f"initial JS is {total / 1024:.0f} KiB gzipped: {sizes}"
    # ECharts is for the pages with charts: its chunk is loaded when one opens, not before the first screen.
    charts = [src for src in scripts if "echarts" in (WEB / "dist" / src.lstrip("/")).read_text(errors="ignore")]
    assert not charts, f"charts load before they are used: {charts}"
