"""`tsctl erasures`: a person's data erased everywhere, by phone or email (lead-intake's /v1/erasures), for
operators and the privacy desk's scripts (`--role service`, or `--token` with the desk's service token).

What tsctl prints names no one: the erasure records keep no phone or email, and what tsctl echoes of the
phone or email it was given (the request line, a refusal quoting it) is masked."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from telesales_runtime.masking import mask_email, mask_phone, mask_phones

from .platform import PlatformError
from .tsctl_cli import Context, ctx_of, err, fail, guarded, out, show

TIMED_OUT = 3  # exit status of `show --wait` when the request is still pending (1: a refusal)
POLL_SECONDS = 1.0

erasures_app = typer.Typer(no_args_is_help=True, help="Erasure requests (lead-intake): erase a person's data in "
                           "every service, by phone or email, and follow the request until every service answered.")


def masked(text: str, phone: str | None = None, email: str | None = None) -> str:
    """`text` without the given phone or email in full, and with every phone number in it masked."""
    if phone:
        text = text.replace(phone, _masked_phone(phone))
    if email:
        text = text.replace(email, mask_email(email) or "")
    return mask_phones(text)


def _masked_phone(phone: str) -> str:
    """As written (139 2468 1357 -> 139****1357), or, a number the pattern does not know, by its length."""
    found = mask_phones(phone)
    return found if found != phone else mask_phone(phone) or ""


def summary(view: dict[str, Any]) -> dict[str, Any]:
    """One request as tsctl prints it: where it stands and which services answered (lead ids counted)."""
    answered = sorted(view.get("services") or {})
    by = view.get("requested_by") or {}
    leads = view.get("lead_ids")
    return {"request_id": view["request_id"], "status": view["status"], "reason": view.get("reason"),
            "note": view.get("note"), "leads": None if leads is None else len(leads),
            "services": f"{len(answered)}/{len(view.get('expected_services') or [])}",
            "answered": ", ".join(answered), "requested_by": by.get("sub") or by.get("source"),
            "requested_at": view.get("requested_at"), "completed_at": view.get("completed_at")}


def _show_one(c: Context, view: dict[str, Any]) -> None:
    if c.json:
        return show(c, view)
    show(c, summary(view), title=f"erasure {view['request_id']}")


@erasures_app.command("request")
def request(ctx: typer.Context,
            phone: Annotated[str | None, typer.Option(help="The person's phone number, as written anywhere.")] = None,
            email: Annotated[str | None, typer.Option(help="The person's email.")] = None,
            reason: Annotated[str | None, typer.Option(help="Why: the privacy desk's ticket, kept with the "
                                                       "request (no personal data).")] = None) -> None:
    """Erase a person's data in every service (POST /v1/erasures); prints the request, `show --wait` follows it."""
    if not (phone or email):
        raise fail(ValueError("name the person: --phone, --email or both"))
    body = {"phone": phone, "email": email, "reason": reason}
    c = ctx_of(ctx)
    try:
        view = c.run("lead-intake", "POST", "/v1/erasures", json=body)
    except PlatformError as error:
        raise fail(PlatformError(masked(str(error), phone, email))) from error
    if not c.json:
        asked = " and ".join(part for part in (phone and f"phone {_masked_phone(phone)}",
                                               email and f"email {mask_email(email)}") if part)
        out.print(f"erasure of the person with {asked} requested", highlight=False)
    _show_one(c, view)


@erasures_app.command("list")
def list_requests(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1, max=200)] = 20) -> None:
    """The tenant's erasure requests, newest first (GET /v1/erasures)."""
    def job(c: Context) -> None:
        page = c.run("lead-intake", "GET", "/v1/erasures", params={"limit": limit})
        if c.json:
            return show(c, page)
        show(c, [summary(view) for view in page["items"]],
             ["request_id", "status", "reason", "leads", "services", "requested_by", "requested_at", "note"],
             title="erasure requests")
    guarded(ctx, job)


@erasures_app.command("show")
def show_request(ctx: typer.Context, request_id: Annotated[str, typer.Argument(help="erasure-...")],
                 wait: Annotated[float, typer.Option(min=0, help="Read again until every service answered, up to "
                                                     f"this many seconds; exit {TIMED_OUT} if still pending.")] = 0
                 ) -> None:
    """An erasure request and which services erased their copies (GET /v1/erasures/{id})."""
    def job(c: Context) -> None:
        deadline = time.monotonic() + wait
        view = c.run("lead-intake", "GET", f"/v1/erasures/{request_id}")
        while view["status"] == "pending" and time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            view = c.run("lead-intake", "GET", f"/v1/erasures/{request_id}")
        _show_one(c, view)
        if wait and view["status"] == "pending":
            missing = sorted(set(view.get("expected_services") or []) - set(view.get("services") or {}))
            err.print(f"still pending after {wait:g}s: waiting for {', '.join(missing)}", highlight=False)
            raise typer.Exit(TIMED_OUT)
    guarded(ctx, job)

