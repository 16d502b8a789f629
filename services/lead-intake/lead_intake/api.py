"""HTTP API of lead-intake: submit and import leads, look them up, manage the do-not-call list and the
scoring weights. Every route works within one tenant (the token's) and needs a role of ACCESS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from faststream.kafka import KafkaBroker

from telesales_contracts.leads import Channel, LeadReceived
from telesales_contracts.topics import LEADS_RECEIVED
from telesales_runtime.access_log import AccessRecord, Viewer
from telesales_runtime.access_log_api import ACCESS_LOG_PATH
from telesales_runtime.auth import Caller, Principal
from telesales_runtime.http import Problem, Tenant, decode_upload, from_app_state

from . import domain
from .queries import IntakeQueries, LeadSearch
from .schemas import (
    SUBMISSION_OUTCOMES,
    Accepted,
    DoNotCallEntry,
    DoNotCallIn,
    DoNotCallPage,
    ImportResult,
    LeadPage,
    LeadView,
    ModelView,
    SubmissionStatus,
    WeightsView,
)
from .service import IntakeService
from .settings import LeadIntakeSettings
from .submissions import LeadSubmissions
from .uploads import CSV_TYPES, JSONL_TYPES, read_import, rows_of

router = APIRouter(prefix="/v1", tags=["leads"])

# Who may call each route (admin: every route). Leads come in from operators' imports and from machine
# clients (web forms, dialers: service tokens); supervisors read leads and scoring; agents work leads in the
# allocator, not here (they may only ask whether a number is on the do-not-call list).
ACCESS = {
    "POST /v1/leads": ("operator", "service"),
    "POST /v1/leads:import": ("operator", "service"),
    "GET /v1/submissions/{event_id}": ("operator", "service"),
    "GET /v1/leads/{lead_id}": ("supervisor", "operator", "service"),
    "GET /v1/leads": ("supervisor", "operator", "service"),
    "PUT /v1/do-not-call/{phone}": ("operator", "service"),
    "GET /v1/do-not-call/{phone}": ("agent", "supervisor", "operator", "service"),
    "DELETE /v1/do-not-call/{phone}": ("operator",),
    "GET /v1/do-not-call": ("operator",),
    "GET /v1/scoring/weights": ("supervisor", "operator"),
    "PUT /v1/scoring/weights": ("operator",),
    "GET /v1/scoring/models": ("supervisor", "operator"),
    # Who saw which lead in full: operators and auditors only (telesales_runtime.access_log).
    f"GET {ACCESS_LOG_PATH}": ("operator", "auditor"),
}
# Who sees a lead's phone, name and email in full; every other role gets them masked (138****5678, 张*).
# They are platform principals: each such answer is logged, none is held to the unmasking budget.
FULL_CONTACT_ROLES = ("admin", "service")


async def log_full(request: Request, caller: Principal, lead_ids: list[str]) -> None:
    """Record an answer that showed `lead_ids` in full (nothing when it showed none)."""
    if not lead_ids:
        return
    route = request.scope.get("route")
    viewer = Viewer(sub=caller.sub, roles=tuple(sorted(caller.roles)), tenant=caller.tenant, team=caller.team)
    await request.app.state.store.access_log.record(AccessRecord(
        viewer=viewer, method=request.method, route=getattr(route, "path", request.url.path),
        lead_ids=tuple(lead_ids), reason="service" if caller.has("service") else "admin"))

Intake = Annotated[IntakeService, Depends(from_app_state("intake"))]
Queries = Annotated[IntakeQueries, Depends(from_app_state("queries"))]
Broker = Annotated[KafkaBroker, Depends(from_app_state("broker"))]
Settings = Annotated[LeadIntakeSettings, Depends(from_app_state("settings"))]
IdempotencyKey = Annotated[str | None, Header(max_length=200, description="Same key, same event id: safe retries.")]
EventSource = Annotated[str | None, Header(alias="X-Source", max_length=500)]


def _submissions(broker: Broker, settings: Settings, intake: Intake) -> LeadSubmissions:
    return LeadSubmissions(broker, settings, intake.store.sealing.keyring)


Submissions = Annotated[LeadSubmissions, Depends(_submissions)]


@router.post("/leads", status_code=202, response_model=Accepted,
             summary="Submit one lead (published to leads.received.v1)")
async def submit_lead(lead: LeadReceived, tenant: Tenant, submissions: Submissions, settings: Settings,
                      response: Response, idempotency_key: IdempotencyKey = None,
                      x_source: EventSource = None) -> Accepted:
    try:
        event_id = await submissions.submit(tenant=tenant, lead=lead, source=x_source or "/http/lead-intake",
                                            idempotency_key=idempotency_key)
    except TimeoutError:  # answered in time instead; a retry with the same Idempotency-Key is the same event
        raise Problem(503, "Broker unavailable", f"The message broker did not confirm the lead within "
                      f"{settings.publish_timeout_seconds:g} s; retry later with the same Idempotency-Key.",
                      headers={"Retry-After": "5"}) from None
    response.headers["Location"] = f"/v1/submissions/{event_id}"
    return Accepted(event_id=event_id, status_url=f"/v1/submissions/{event_id}")


@router.post("/leads:import", status_code=202, response_model=ImportResult,
             summary="Import up to 100,000 leads from CSV or JSON lines (published to leads.received.v1)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}},
                 "application/x-ndjson": {"schema": {"type": "string"}}}}})
async def import_leads(request: Request, tenant: Tenant, submissions: Submissions, settings: Settings,
                       idempotency_key: IdempotencyKey = None, x_source: EventSource = None) -> ImportResult:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in CSV_TYPES | JSONL_TYPES:
        raise Problem(415, "Unsupported Media Type",
                      "Send text/csv (with a header row) or application/x-ndjson (one JSON object per line).")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > settings.import_max_bytes:
            raise Problem(413, "Payload Too Large", f"An import may be at most {settings.import_max_bytes} bytes.")
    read = await read_import(rows_of(decode_upload(bytes(body)), content_type), max_rows=settings.import_max_rows)
    import_id = submissions.import_id(tenant=tenant, idempotency_key=idempotency_key)
    await submissions.publish_import(tenant=tenant, import_id=import_id, source=x_source, leads=read.valid)
    return ImportResult(import_id=import_id, rows=read.rows, accepted=len(read.valid), invalid=read.invalid,
                        errors=read.errors)


@router.get("/submissions/{event_id}", response_model=SubmissionStatus,
            summary="What became of a submitted lead (pending until processed)")
async def submission_status(event_id: str, tenant: Tenant, queries: Queries) -> SubmissionStatus:
    outcome = await queries.submission(tenant=tenant, event_id=event_id)
    if outcome is None:
        return SubmissionStatus(event_id=event_id, status="pending")
    if outcome.get("status") not in SUBMISSION_OUTCOMES:  # an outcome or complaint event, not a lead
        raise Problem(404, "Not a submission", f"Event {event_id!r} was not a lead submission "
                      f"({LEADS_RECEIVED.name}); it was consumed from another topic.", code="not_a_submission")
    return SubmissionStatus(event_id=event_id, **outcome)


@router.get("/leads/{lead_id}", response_model=LeadView, summary="One stored lead")
async def get_lead(lead_id: str, tenant: Tenant, queries: Queries, caller: Caller, request: Request) -> LeadView:
    view = await queries.lead(tenant=tenant, lead_id=lead_id, mask=not caller.has(*FULL_CONTACT_ROLES))
    if view is None:
        raise Problem(404, "Lead not found", f"No lead {lead_id!r} in tenant {tenant!r}.")
    await log_full(request, caller, [] if view.masked else [view.lead_id])
    return view


@router.get("/leads", response_model=LeadPage, summary="Search leads, newest first")
async def search_leads(
    tenant: Tenant,
    queries: Queries,
    settings: Settings,
    caller: Caller,
    request: Request,
    phone: Annotated[str | None, Query(max_length=40, description="Any written form; matched in E.164.")] = None,
    email: Annotated[str | None, Query(max_length=254)] = None,
    grade: Annotated[str | None, Query(pattern="^[ABCD]$")] = None,
    channel: Channel | None = None,
    business_line: Annotated[str | None, Query(max_length=64)] = None,
    source_system: Annotated[str | None, Query(min_length=1, max_length=500, description=(
        "A producing system (the lead's source_system, else its event's source); with external_id: that "
        "system's lead."))] = None,
    external_id: Annotated[str | None, Query(min_length=1, max_length=200, description=(
        "An outside system's own id of the lead (with source_system: of that system)."))] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> LeadPage:
    phone_e164 = None
    if phone is not None:
        parsed = domain.standardize_phone(phone, settings.default_region)
        if parsed is None or parsed.e164 is None:
            raise Problem(422, "Invalid phone", f"{phone!r} is not a phone number.")
        phone_e164 = parsed.e164
    search = LeadSearch(phone_e164=phone_e164, email=domain.normalize_email(email)[0] if email is not None else None,
                        grade=grade, channel=channel, business_line=business_line, source_system=source_system,
                        external_id=external_id)
    page = await queries.leads(tenant=tenant, search=search, limit=limit, cursor=cursor,
                               mask=not caller.has(*FULL_CONTACT_ROLES))
    await log_full(request, caller, [v.lead_id for v in page.items if not v.masked])
    return page


# ---- do-not-call list ------------------------------------------------------------------------------

dnc_router = APIRouter(prefix="/v1/do-not-call", tags=["do-not-call"])


def _phone_param(phone: str, settings: LeadIntakeSettings) -> str:
    parsed = domain.standardize_phone(phone, settings.default_region)
    if parsed is None or not parsed.valid or parsed.e164 is None:
        raise Problem(422, "Invalid phone", f"{phone!r} is not a valid phone number.")
    return parsed.e164


@dnc_router.put("/{phone}", response_model=DoNotCallEntry, summary="Put a number on the do-not-call list")
async def put_do_not_call(phone: str, tenant: Tenant, intake: Intake, settings: Settings,
                          body: DoNotCallIn | None = None) -> DoNotCallEntry:
    doc = await intake.put_on_do_not_call(tenant=tenant, phone_e164=_phone_param(phone, settings),
                                          reason=body.reason if body else None)
    return DoNotCallEntry.model_validate(doc)


@dnc_router.get("/{phone}", response_model=DoNotCallEntry, summary="Whether a number is on the list")
async def get_do_not_call(phone: str, tenant: Tenant, queries: Queries, settings: Settings) -> DoNotCallEntry:
    e164 = _phone_param(phone, settings)
    entry = await queries.do_not_call(tenant=tenant, phone=e164)
    if entry is None:
        raise Problem(404, "Not on the list", f"{e164} is not on the do-not-call list.")
    return entry


@dnc_router.delete("/{phone}", status_code=204, summary="Take a number off the list")
async def delete_do_not_call(phone: str, tenant: Tenant, intake: Intake, settings: Settings) -> Response:
    e164 = _phone_param(phone, settings)
    if not await intake.take_off_do_not_call(tenant=tenant, phone_e164=e164):
        raise Problem(404, "Not on the list", f"{e164} is not on the do-not-call list.")
    return Response(status_code=204)


@dnc_router.get("", response_model=DoNotCallPage, summary="The do-not-call list, in the order numbers were listed")
async def list_do_not_call(tenant: Tenant, queries: Queries, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                           cursor: Annotated[str | None, Query(pattern="^[0-9a-f]{24}$")] = None) -> DoNotCallPage:
    return await queries.do_not_call_page(tenant=tenant, limit=limit, cursor=cursor)


# ---- scoring -----------------------------------------------------------------------------------------

scoring_router = APIRouter(prefix="/v1/scoring", tags=["scoring"])


@scoring_router.get("/weights", response_model=WeightsView, summary="Scoring weights in force")
async def get_weights(tenant: Tenant, queries: Queries, response: Response) -> WeightsView:
    view = await queries.weights(tenant=tenant)
    response.headers["ETag"] = f'"{view.version}"'
    return view


@scoring_router.put("/weights", response_model=WeightsView, summary="Replace the scoring weights")
async def put_weights(weights: domain.ScoringWeights, tenant: Tenant, intake: Intake, response: Response,
                      if_match: Annotated[str | None, Header(description="Version from GET, e.g. \"3\"")] = None,
                      ) -> WeightsView:
    expected: int | None = None
    if if_match is not None:
        try:
            expected = int(if_match.strip().strip('"').removeprefix("W/").strip('"'))
        except ValueError as error:
            raise Problem(400, "Invalid If-Match", "If-Match must be the version number from GET.") from error
    version = await intake.replace_weights(tenant=tenant, weights=weights, expected_version=expected)
    if version is None:
        raise Problem(412, "Weights changed meanwhile",
                      f"The weights are no longer at version {expected}; read them again and retry.")
    response.headers["ETag"] = f'"{version}"'
    return WeightsView(version=version, weights=weights.model_dump(mode="json"))


@scoring_router.get("/models", response_model=list[ModelView],
                    summary="Outcomes learned per business line and whether the model is in use")
async def get_models(tenant: Tenant, queries: Queries) -> list[ModelView]:
    return await queries.models(tenant=tenant)
