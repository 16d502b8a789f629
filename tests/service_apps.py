"""The six applications as the cross-service tests build them: each service's own create_app with its own
settings, on the stack's broker, database and cache, in a database of the test's."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from telesales_runtime.auth import OPEN_PATHS

# The console's sign-in routes are open: nobody is signed in yet (services/console/tests test them).
SIGN_IN = "/auth/"


def service_app(name: str, infra: Any, database: str, **wiring: Any) -> FastAPI:
    """The app of service `name` (lead-intake ... console) on `database`; `wiring`: create_app's extras."""
    common = {"kafka_bootstrap": infra.kafka_bootstrap, "mongo_uri": infra.mongo_uri, "redis_url": infra.redis_url,
              "mongo_db": database, "log_json": False}
    if name == "lead-intake":
        from lead_intake.main import create_app
        from lead_intake.settings import LeadIntakeSettings as Settings
    elif name == "allocator":
        from allocator.main import create_app  # type: ignore[no-redef]
        from allocator.settings import AllocatorSettings as Settings  # type: ignore[no-redef]
    elif name == "ledger":
        from ledger.main import create_app  # type: ignore[no-redef]
        from ledger.settings import LedgerSettings as Settings  # type: ignore[no-redef]
    elif name == "marketplace":
        from marketplace.main import create_app  # type: ignore[no-redef]
        from marketplace.settings import MarketplaceSettings as Settings  # type: ignore[no-redef]
    elif name == "metrics":
        from metrics.main import create_app  # type: ignore[no-redef]
        from metrics.settings import MetricsSettings as Settings  # type: ignore[no-redef]
    else:
        from console.main import create_app  # type: ignore[no-redef]
        from console.settings import ConsoleSettings as Settings  # type: ignore[no-redef]
    return create_app(Settings(**common), **wiring)


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation of the app's OpenAPI that needs a caller."""
    found = [(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
             if method in ("get", "post", "put", "patch", "delete") and path not in OPEN_PATHS
             and not path.startswith(SIGN_IN)]
    return sorted(found)


def access_table(app: FastAPI) -> dict[str, Any]:
    """The roles of each "METHOD /path" the application was built with (create_service_app); OpenAPI writes
    {transfer_id:path} as {transfer_id}."""
    return {key.replace(":path}", "}"): roles for key, roles in app.state.access.items()}
