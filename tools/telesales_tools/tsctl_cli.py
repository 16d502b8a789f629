"""What every tsctl command shares: the context it acts in (endpoints, tenant, actor, role, token), how a
refusal ends the command, and how answers are printed (a table, or --json)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .platform import Api, Endpoints, PlatformError

out = Console()
err = Console(stderr=True)


@dataclass
class Context:
    endpoints: Endpoints
    tenant: str
    actor: str
    json: bool
    transport: httpx.AsyncBaseTransport | None = None  # tests put a MockTransport here
    role: str = "operator"
    token: str | None = None

    def run(self, service: str, method: str, path: str, *, role: str | None = None, actor: str | None = None,
            **kwargs: Any) -> Any:
        """One call to a service, as the actor in its role (or with --token); its answer."""
        if self.token:
            kwargs["headers"] = {"Authorization": f"Bearer {self.token}"} | kwargs.get("headers", {})

        async def call() -> Any:
            async with httpx.AsyncClient(base_url=self.endpoints.url(service), timeout=60,
                                         transport=self.transport) as client:
                return await Api(service, client, self.tenant).call(method, path, actor=actor or self.actor,
                                                                    role=role or self.role, **kwargs)
        return asyncio.run(call())


def ctx_of(ctx: typer.Context) -> Context:
    return ctx.find_root().obj


def fail(error: Exception) -> typer.Exit:
    err.print(Text.assemble(("error: ", "red"), str(error)), soft_wrap=True, highlight=False)
    return typer.Exit(1)


def guarded(ctx: typer.Context, job: Callable[[Context], Any]) -> Any:
    try:
        return job(ctx_of(ctx))
    except PlatformError as error:
        raise fail(error) from error


def show(context: Context, body: Any, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """The answer as JSON (--json), or as a table of `columns` (rows: a list, or a page's items)."""
    if context.json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))
        return
    rows = body.get("items", body) if isinstance(body, dict) and "items" in body else body
    if isinstance(rows, dict):
        rows = [{"field": k, "value": v} for k, v in rows.items()]
        columns = ["field", "value"]
    rows = list(rows or [])
    columns = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    out.print(table)
    if not rows:
        out.print("(nothing)")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


Tenant = Annotated[str, typer.Option(envvar="TELESALES_TENANT", help="Tenant (X-Tenant-Id).")]
Actor = Annotated[str, typer.Option(envvar="TELESALES_ACTOR", help="Who acts (the token's sub).")]
RoleOption = Annotated[str, typer.Option("--role", envvar="TELESALES_ROLE",
                                         help="The actor's role: agent, supervisor, operator, admin.")]
TokenOption = Annotated[str | None, typer.Option("--token", envvar="TELESALES_TOKEN",
                                                 help="A bearer token to send instead of signing one.")]
