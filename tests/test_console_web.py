"""The console's web app as a whole: its API types are generated from the services' current OpenAPI
documents, its component tests (Vitest) pass, and what a browser loads first stays small."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "services" / "console" / "web"
# What a browser downloads before a page's first screen (the entry, the app and the page), gzipped.
INITIAL_JS_BUDGET_BYTES = 450 * 1024


def test_committed_openapi_documents_are_the_services_own() -> None:
    """The web app is typed from services/console/web/openapi/: a service whose API changed without `make
    openapi` would leave the app typed against an API that no longer is."""
    result = subprocess.run([sys.executable, str(REPO / "deploy" / "openapi_export.py"), "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_component_tests_pass(tmp_path: Path) -> None:
    if not (WEB / "node_modules").is_dir():
        pytest.fail("the web app's packages are not installed: run `make web` (install.sh does)")
    # The counts come from Vitest's JSON report, not its console: CI may force colours into the console.
    report = tmp_path / "vitest.json"
    result = subprocess.run(["npm", "test", "--silent", "--", "--reporter=default", "--reporter=json",
                             f"--outputFile.json={report}"],
                            cwd=WEB, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    counts = json.loads(report.read_text())
    assert counts["success"] and counts["numFailedTests"] == 0, result.stdout[-4000:]
    assert counts["numPassedTests"] > 0, "Vitest found no component tests"


def chunks_of(manifest: dict[str, dict], *keys: str) -> set[str]:
    """The files the given manifest entries need before they run: themselves and, transitively, their static
    imports (not their dynamic ones, which load when used)."""
    files: set[str] = set()
    todo, seen = list(keys), set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        files.add(manifest[key]["file"])
        todo.extend(manifest[key].get("imports", []))
    return files


def first_screen(manifest: dict[str, dict], page: str) -> set[str]:
    """What a browser downloads before the first screen of `page` (a source path, e.g. src/pages/LeadsPage.tsx,
    or its manifest key): the entry, the app it starts at once, and the page the URL shows."""
    entry = next(key for key, chunk in manifest.items() if chunk.get("isEntry"))
    app = next(key for key in manifest[entry].get("dynamicImports", []) + list(manifest)
               if manifest[key]["file"].startswith("assets/app-"))
    page_key = next(key for key, chunk in manifest.items() if key == page or chunk.get("src") == page
                    or chunk.get("name") == page)
    return chunks_of(manifest, entry, app, page_key)


def gzipped(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


def test_the_first_screen_downloads_little_and_no_charts() -> None:
    dist = WEB / "dist"
    manifest_file = dist / ".vite" / "manifest.json"
    if not manifest_file.is_file():
        pytest.fail("the web app is not built: run `make web` (install.sh does)")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    for page in ("LeadsPage", "ClaimPage", "TipsPage", "TipPage", "LeadPage", "WalletPage", "DayPage", "LoginPage"):
        files = first_screen(manifest, page)
        sizes = {name: gzipped(dist / name) for name in files if name.endswith(".js")}
        total = sum(sizes.values())
        print(f"{page}: first screen {total / 1024:.0f} KiB of JavaScript gzipped in {len(sizes)} files")
        assert total <= INITIAL_JS_BUDGET_BYTES, f"{page}: {total / 1024:.0f} KiB gzipped: {sizes}"
        # ECharts is for the pages with charts: it loads when one opens, not before a first screen.
        assert not [name for name in files if "echarts" in name], (page, sorted(files))
