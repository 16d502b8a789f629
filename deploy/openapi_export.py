#!/usr/bin/env python3
"""Writes each service's OpenAPI document to services/console/web/openapi/<service>.json.

The console's web app generates its API types from these files (`npm run api-types`), so a change to a
service's API that breaks the app breaks the app's build. `--check` exits 1 when a committed document
differs from the service's (tests/test_console_web.py runs it in `make test`).

    uv run --frozen python deploy/openapi_export.py [--check]

Building an application connects nothing (each service's create_app only wires), so no stack is needed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from telesales_runtime.pii_crypto import new_keyring_json

OUT = Path(__file__).resolve().parents[1] / "services" / "console" / "web" / "openapi"
# service name -> (module with create_app, settings class)
SERVICES = {
    "lead-intake": ("lead_intake.main", "lead_intake.settings", "LeadIntakeSettings"),
    "allocator": ("allocator.main", "allocator.settings", "AllocatorSettings"),
    "ledger": ("ledger.main", "ledger.settings", "LedgerSettings"),
    "marketplace": ("marketplace.main", "marketplace.settings", "MarketplaceSettings"),
    "metrics": ("metrics.main", "metrics.settings", "MetricsSettings"),
    "console": ("console.main", "console.settings", "ConsoleSettings"),
}


def document(name: str) -> str:
    main_module, settings_module, settings_class = SERVICES[name]
    # a throwaway personal data keyring: the services that store personal data need one to be built, and
    # building one stores nothing
    settings = getattr(importlib.import_module(settings_module), settings_class)(pii_keyring=new_keyring_json())
    app = importlib.import_module(main_module).create_app(settings)
    return json.dumps(app.openapi(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed document is out of date")
    parser.add_argument("services", nargs="*", default=list(SERVICES), help="services (default: all)")
    args = parser.parse_args()
    stale = []
    for name in args.services:
        path = OUT / f"{name}.json"
        text = document(name)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(OUT.parents[3])}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run `make openapi`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
