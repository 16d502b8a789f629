"""tsctl: operators' daily jobs on the telesales platform, through its public APIs.

Addresses come from the same environment as the local stack (`eval "$(make env)"`, or TELESALES_<SERVICE>_URL /
TELESALES_<SERVICE>_PORT and TELESALES_KAFKA_BOOTSTRAP); --tenant (TELESALES_TENANT) picks the company and
--actor (TELESALES_ACTOR) who acts, in --role (TELESALES_ROLE, operator by default): tsctl signs a bearer
token for them with the local stack's secret (TELESALES_AUTH_HS256_SECRET when the services run with another
one), or sends --token (TELESALES_TOKEN) as it is; `tsctl token` prints one. Tables by default, --json for the services' answers as they are. A
refusal of a service (problem+json) is printed with its status and code, and tsctl exits 1.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from .floor import Floor, seed_floor
from .lead_files import publish_rows, read_rows
from .platform import Api, Endpoints, PlatformError, Publisher, check_tenant, close_apis, open_apis
from .platform import token as platform_token
from .report import FUNNELS, print_summary, read_funnels
from .scenario import CHECKLIST, FLOOR_TZ
from .tsctl_cli import Actor, Context, RoleOption, Tenant, TokenOption, ctx_of, fail, guarded, out, show
from .tsctl_erasures import erasures_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
leads_app = typer.Typer(no_args_is_help=True, help="Leads (lead-intake): import a file, look one up.")
pools_app = typer.Typer(no_args_is_help=True, help="Pools and claims (allocator).")
agents_app = typer.Typer(no_args_is_help=True, help="The roster and grades (allocator).")
coins_app = typer.Typer(no_args_is_help=True, help="Coins (ledger): issue, allocate, balances.")
tips_app = typer.Typer(no_args_is_help=True, help="Tips (marketplace): the review queue and reviews.")
for sub, name in ((leads_app, "leads"), (pools_app, "pools"), (agents_app, "agents"), (coins_app, "coins"),
                  (tips_app, "tips"), (erasures_app, "erasures")):
    app.add_typer(sub, name=name)


@app.callback()
def root(ctx: typer.Context, tenant: Tenant = "default", actor: Actor = "ops", role: RoleOption = "operator",
         token: TokenOption = None,
         as_json: Annotated[bool, typer.Option("--json", help="Print the services' JSON answers.")] = False,
         kafka_bootstrap: Annotated[str | None, typer.Option(envvar="TELESALES_KAFKA_BOOTSTRAP")] = None) -> None:
    try:
        check_tenant(tenant)
    except PlatformError as error:
        raise fail(error) from error
    if ctx.obj is None:
        ctx.obj = Context(Endpoints.from_env(kafka_bootstrap=kafka_bootstrap), tenant, actor, as_json)
    else:  # a test handed in its own Context: apply the options over it
        ctx.obj.tenant, ctx.obj.actor, ctx.obj.json = tenant, actor, as_json
    ctx.obj.role, ctx.obj.token = role, token


@app.command("token")
def print_token(ctx: typer.Context,
                sub: Annotated[str | None, typer.Option(help="Who the token names; default: --actor.")] = None,
                role: Annotated[str | None, typer.Option(help="Its role; default: --role.")] = None,
                team: Annotated[str | None, typer.Option(help="The team of an agent or supervisor.")] = None) -> None:
    """Print a bearer token signed with the local stack's secret (TELESALES_AUTH_HS256_SECRET), e.g.
    curl -H "Authorization: Bearer $(tsctl token --role agent --sub zhang-san --team mba)" ..."""
    c = ctx_of(ctx)
    out.print(platform_token(c.tenant, sub or c.actor, role or c.role, team, fresh=True), soft_wrap=True,
              highlight=False)


# ---- leads ---------------------------------------------------------------------------------------------------

@leads_app.command("import")
def import_leads(
    ctx: typer.Context, file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSONL file.")],
    kafka: Annotated[bool, typer.Option("--kafka", help="Publish each row to leads.received.v1 instead of "
                                        "lead-intake's import route.")] = False,
    source: Annotated[str, typer.Option(help="CloudEvents source of the published events (--kafka).")] = "/tsctl/import",
) -> None:
    """Import leads: through lead-intake's POST /v1/leads:import (rows checked and reported), or --kafka."""
    kind = "jsonl" if file.suffix.lower() in (".jsonl", ".ndjson") else "csv"

    def job(c: Context) -> None:
        if kafka:
            sent, errors = asyncio.run(publish_rows(c.endpoints.kafka_bootstrap, c.tenant, read_rows(file, kind),
                                                    source))
            body = {"published": sent, "invalid": len(errors), "errors": errors}
        else:
            media = "application/x-ndjson" if kind == "jsonl" else "text/csv"
            body = c.run("lead-intake", "POST", "/v1/leads:import", content=file.read_bytes(),
                         headers={"Content-Type": media})
        show(c, body)
    guarded(ctx, job)


@leads_app.command("get")
def get_lead(ctx: typer.Context, phone: Annotated[str, typer.Argument(help="Phone number, as written anywhere.")]
             ) -> None:
    """Find stored leads by phone number."""
    guarded(ctx, lambda c: show(c, c.run("lead-intake", "GET", "/v1/leads", params={"phone": phone}),
                                ["lead_id", "name", "phone_e164", "channel", "grade", "score", "business_line"]))


# ---- pools, claims -------------------------------------------------------------------------------------------


@pools_app.command("tiers")
def tiers(ctx: typer.Context, agent: Annotated[str | None, typer.Option(help="Whether this agent may open each.")]
          = None) -> None:
    """The tiered pools, and (with --agent) whether that agent may open each now."""
    params = {"agent_id": agent} if agent else {}
    guarded(ctx, lambda c: show(c, c.run("allocator", "GET", "/v1/tiers", params=params)))


@pools_app.command("leads")
def pool_leads(ctx: typer.Context, pool: Annotated[str, typer.Argument(help="Pool id, e.g. education.")],
               tier: Annotated[str | None, typer.Option()] = None,
               limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """Browse a public pool, best first (numbers masked)."""
    params: dict[str, Any] = {"limit": limit} | ({"tier": tier} if tier else {})
    guarded(ctx, lambda c: show(c, c.run("allocator", "GET", f"/v1/pools/{pool}/leads", params=params),
                                ["lead_id", "phone", "name", "product_interest", "score", "lead_grade", "drop_count",
                                 "status"], title=f"pool {pool}"))


@pools_app.command("claim")
def claim(ctx: typer.Context, agent: Annotated[str, typer.Argument(help="The agent who claims.")],
          tier: Annotated[str, typer.Option(help="Tier to claim from.")] = "fresh",
          count: Annotated[int, typer.Option(min=1, max=1000)] = 5) -> None:
    """Claim (捞取) leads for an agent (the actor must be the agent or its supervisor)."""
    def job(c: Context) -> None:
        body = c.run("allocator", "POST", f"/v1/agents/{agent}/claims", json={"tier_id": tier, "count": count},
                     role="agent" if c.actor == agent else "supervisor")
        if c.json:
            return show(c, body)
        out.print(f"claimed {body['claimed']} of {body['requested']} (granted {body['granted']}); holding "
                  f"{body['holding']}/{body['holding_cap']}, quota left {body['quota_left']}", highlight=False)
        show(c, body["leads"], ["lead_id", "phone", "name", "product_interest", "score", "lead_grade"])
    guarded(ctx, job)


@pools_app.command("sweep")
def sweep(ctx: typer.Context) -> None:
    """Run the reclaim sweep (回收) of the tenant now."""
    guarded(ctx, lambda c: show(c, c.run("allocator", "POST", "/v1/reclaim-sweeps")))


# ---- agents ------------------------------------------------------------------------------------------------------


@agents_app.command("list")
def list_agents(ctx: typer.Context, team: Annotated[str | None, typer.Option()] = None,
                limit: Annotated[int, typer.Option(min=1, max=1000)] = 100) -> None:
    """The roster as the allocator has it."""
    params: dict[str, Any] = {"limit": limit} | ({"team_id": team} if team else {})
    guarded(ctx, lambda c: show(c, c.run("allocator", "GET", "/v1/agents", params=params),
                                ["agent_id", "name", "role", "team_id", "grade", "status", "worked_minutes_today"]))


@agents_app.command("grade")
def grade(ctx: typer.Context, agent: Annotated[str, typer.Argument()],
          value: Annotated[str, typer.Argument(help="A, B, C, D or E.")]) -> None:
    """Set an agent's grade by hand (until the next weekly grading)."""
    guarded(ctx, lambda c: show(c, c.run("allocator", "PATCH", f"/v1/agents/{agent}", json={"grade": value.upper()}),
                                ["agent_id", "name", "team_id", "grade", "holding"]))


@agents_app.command("grade-week")
def grade_week(ctx: typer.Context, week: Annotated[str, typer.Argument(help="ISO week, e.g. 2026-W47.")]) -> None:
    """Grade a finished ISO week from its sales (the weekly A-E grading, run now)."""
    guarded(ctx, lambda c: show(c, c.run("allocator", "POST", f"/v1/gradings/{week}")))


# ---- coins -------------------------------------------------------------------------------------------------------


@coins_app.command("issue")
def issue(ctx: typer.Context, issue_id: Annotated[str, typer.Argument(help="Idempotency id, e.g. budget-2026-11.")],
          amount: Annotated[int, typer.Argument(min=1)]) -> None:
    """Issue coins into the operators' budget."""
    guarded(ctx, lambda c: show(c, c.run("ledger", "POST", "/v1/issues", json={"id": issue_id, "amount": amount})))


@coins_app.command("allocate")
def allocate(ctx: typer.Context, allocation_id: Annotated[str, typer.Argument(help="Idempotency id.")],
             amount: Annotated[int, typer.Argument(min=1, help="Coins per user.")],
             user: Annotated[list[str] | None, typer.Option(help="A user (repeat); default: the roster.")] = None,
             role: Annotated[list[str] | None, typer.Option(help="Roles of the roster (repeat).")] = None,
             grade: Annotated[list[str] | None, typer.Option(help="Grades of the roster (repeat).")] = None,
             team: Annotated[str | None, typer.Option()] = None) -> None:
    """Allocate (配置) coins from the budget to users, or to the roster by role, grade and team."""
    body: dict[str, Any] = {"id": allocation_id, "amount": amount}
    for key, value in (("user_ids", user), ("roles", role), ("grades", grade), ("team_id", team)):
        if value:
            body[key] = value

    def job(c: Context) -> None:
        answer = c.run("ledger", "POST", "/v1/allocations", json=body)
        if c.json:
            return show(c, answer)
        show(c, answer.get("allocated") or [], title=f"allocation {allocation_id}")
    guarded(ctx, job)


@coins_app.command("balance")
def balance(ctx: typer.Context, user: Annotated[str, typer.Argument()]) -> None:
    """A user's wallet, earnings and whether it is blocked."""
    guarded(ctx, lambda c: show(c, c.run("ledger", "GET", f"/v1/users/{user}")))


# ---- tips --------------------------------------------------------------------------------------------------------


@tips_app.command("queue")
def review_queue(ctx: typer.Context) -> None:
    """Versions waiting for review, oldest first (as a reviewer)."""
    guarded(ctx, lambda c: show(c, c.run("marketplace", "GET", "/v1/review-queue", role="operator"),
                                ["tip_id", "version", "title", "stage", "author_id", "price", "submitted_at"]))


@tips_app.command("review")
def review(ctx: typer.Context, tip: Annotated[str, typer.Argument()],
           version: Annotated[int, typer.Argument(min=1)] = 1,
           fail_item: Annotated[list[str] | None, typer.Option("--fail", help="A checklist item the version fails "
                                                               f"(repeat): {', '.join(CHECKLIST)}.")] = None,
           comment: Annotated[str | None, typer.Option()] = None) -> None:
    """Review a submitted version against the checklist: approved unless an item is given with --fail."""
    failed = set(fail_item or ())
    checks = {item: item not in failed for item in CHECKLIST} | {item: False for item in failed}
    guarded(ctx, lambda c: show(c, c.run("marketplace", "POST", f"/v1/tips/{tip}/versions/{version}/review",
                                         role="operator", json={"checks": checks, "comment": comment})))


# ---- funnels -------------------------------------------------------------------------------------------------------


@app.command()
def funnel(ctx: typer.Context,
           which: Annotated[list[str] | None, typer.Argument(help=f"Any of {', '.join(FUNNELS)} (default: all).")]
           = None,
           first: Annotated[str | None, typer.Option("--from", help="First day (ISO date); default 29 days before "
                                                      "--to.")] = None,
           last: Annotated[str | None, typer.Option("--to", help="Last day (ISO date); default today.")] = None) -> None:
    """The metrics service's funnels of the tenant over a range of days, as one row each."""
    names = which or list(FUNNELS)
    unknown = [n for n in names if n not in FUNNELS]
    if unknown:
        raise fail(ValueError(f"unknown funnel {', '.join(unknown)}; choose from {', '.join(FUNNELS)}"))
    end = last or datetime.now(FLOOR_TZ).date().isoformat()
    start = first or (datetime.fromisoformat(end) - timedelta(days=29)).date().isoformat()

    def job(c: Context) -> None:
        async def read() -> dict[str, Any]:
            async with httpx.AsyncClient(base_url=c.endpoints.url("metrics"), timeout=60,
                                         transport=c.transport) as client:
                return await read_funnels(Api("metrics", client, c.tenant), start, end, names)
        funnels = asyncio.run(read())
        if c.json:
            return show(c, funnels)
        print_summary(out, funnels)
    guarded(ctx, job)


@app.command("floor")
def seed_floor_command(
    ctx: typer.Context,
    run: Annotated[str, typer.Option(help="Prefix of every seeded id: the same run seeds nothing twice.")] = "demo",
    agents: Annotated[int, typer.Option(min=1, max=8)] = 6,
    leads: Annotated[int, typer.Option(min=0, max=500)] = 12,
    coins: Annotated[int, typer.Option(min=0)] = 2000) -> None:
    """Seed a small floor to open the console on: a team with graded agents, leads in the public pool, tips
    with recordings for sale, coins in the agents' wallets; then prints who to sign in as."""
    def job(c: Context) -> None:
        async def seed() -> Floor:
            async with Publisher(c.endpoints.kafka_bootstrap) as publisher:
                apis = open_apis(c.endpoints, c.tenant)
                try:
                    return await seed_floor(apis, publisher, tenant=c.tenant, run=run, agents=agents, leads=leads,
                                            coins=coins)
                finally:
                    await close_apis(apis)
        floor = asyncio.run(seed())
        show(c, [{"agent_id": p.agent_id, "name": p.name, "grade": p.grade} for p in floor.agents],
             title=f"team {floor.team_id}: sign in to the console as one of these (supervisor {floor.supervisor_id})")
        out.print(f"{len(floor.lead_ids)} leads in the public pool, {len(floor.tip_ids)} tips for sale, "
                  f"{floor.coins_per_agent} coins each")
    guarded(ctx, job)


def main() -> None:
    app()
