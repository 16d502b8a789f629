"""HTTP API of lead-intake: submit and import leads, look them up, manage the do-not-call list and the
scoring weights. Every route works within one tenant (the token's) and needs a role of ACCESS."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_contracts.leads import Channel, LeadReceived, names_lead_field
from telesales_contracts.topics import LEADS_RECEIVED
from telesales_runtime.auth import Caller
from telesales_runtime.consumer import describe_validation_error
from telesales_runtime.http import Problem, Tenant, decode_upload, from_app_state
from telesales_runtime.kafka import await_confirmations

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
    RowError,
    SubmissionStatus,
    WeightsView,
)
from .service import IntakeService
from .settings import LeadIntakeSettings

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
}
# Who sees a lead's phone, name and email in full; every other role gets them masked (138****5678, 张*).
FULL_CONTACT_ROLES = ("admin", "service")

_IMPORT_IDS = uuid.UUID("6f1c7a52-8d0e-4c55-9a43-1f1e5f0a9b10")  # namespace of ids derived from Idempotency-Key


Intake = Annotated[IntakeService, Depends(from_app_state("intake"))]
Queries = Annotated[IntakeQueries, Depends(from_app_state("queries"))]
Broker = Annotated[KafkaBroker, Depends(from_app_state("broker"))]
Settings = Annotated[LeadIntakeSettings, Depends(from_app_state("settings"))]
IdempotencyKey = Annotated[str | None, Header(max_length=200, description="Same key, same event id: safe retries.")]
EventSource = Annotated[str | None, Header(alias="X-Source", max_length=500)]


def _partition_key(lead: LeadReceived, settings: LeadIntakeSettings) -> bytes | None:
    """Leads of one person go to one partition, so one consumer sees them in order."""
    phone = domain.standardize_phone(lead.phone, lead.phone_region or settings.default_region)
    if phone is not None and phone.e164:
        return phone.e164.encode()
    email, _ = domain.normalize_email(lead.email)
    return email.encode() if email else None


async def _publish(broker: KafkaBroker, settings: LeadIntakeSettings, lead: LeadReceived, *, tenant: str,
                   source: str, event_id: str | None, confirm: bool = True) -> tuple[str, Any]:
    attributes = {"id": event_id} if event_id else {}
    event = LEADS_RECEIVED.event(lead, source=source, tenantid=tenant, **attributes)
    sent = await broker.publish(event.to_json_bytes(), topic=LEADS_RECEIVED.name, key=_partition_key(lead, settings),
                                headers={"content-type": CLOUDEVENTS_CONTENT_TYPE}, no_confirm=not confirm)
    return event.id, sent


@router.post("/leads", status_code=202, response_model=Accepted,
             summary="Submit one lead (published to leads.received.v1)")
async def submit_lead(lead: LeadReceived, tenant: Tenant, broker: Broker, settings: Settings, response: Response,
                      idempotency_key: IdempotencyKey = None, x_source: EventSource = None) -> Accepted:
    event_id = str(uuid.uuid5(_IMPORT_IDS, f"{tenant}|{idempotency_key}")) if idempotency_key else None
    try:
        # A broker that stopped answering would hold the request until the producer's own timeout (40 s):
        # answer 503 in time instead; a retry with the same Idempotency-Key is the same event.
        event_id, _ = await asyncio.wait_for(
            _publish(broker, settings, lead, tenant=tenant, source=x_source or "/http/lead-intake", event_id=event_id),
            timeout=settings.publish_timeout_seconds)
    except TimeoutError:
        raise Problem(503, "Broker unavailable", f"The message broker did not confirm the lead within "
                      f"{settings.publish_timeout_seconds:g} s; retry later with the same Idempotency-Key.",
                      headers={"Retry-After": "5"}) from None
    response.headers["Location"] = f"/v1/submissions/{event_id}"
    return Accepted(event_id=event_id, status_url=f"/v1/submissions/{event_id}")


_CSV_TYPES = {"text/csv", "application/csv"}
_JSONL_TYPES = {"application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines"}
_BEHAVIOUR_FIELDS = {"logins_7d", "page_view_seconds", "unpaid_order"}
_TRUE = {"1", "true", "yes", "y", "是", "有"}


def _csv_rows(text: str) -> Iterator[dict[str, Any]]:
    try:
        yield from _csv_rows_of(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as error:  # e.g. a quote left open at the end of the file
        raise Problem(400, "Malformed CSV", f"The CSV cannot be read: {error}.") from error


def _csv_rows_of(reader: csv.DictReader[str]) -> Iterator[dict[str, Any]]:
    if not reader.fieldnames:
        raise Problem(400, "Empty CSV", "The CSV has no header row.")
    for raw in reader:
        row: dict[str, Any] = {}
        behaviour: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        for column, value in raw.items():
            if column is None:  # more cells than header columns
                raise_row = {"__error__": "the row has more cells than the header has columns"}
                row = raise_row
                break
            value = (value or "").strip()
            if not value:
                continue
            name = column.strip()
            if names_lead_field(name):  # the contract reads it (maybe in another spelling, or an alias of the id)
                row[name] = value
            elif name in _BEHAVIOUR_FIELDS:
                behaviour[name] = value.lower() in _TRUE if name == "unpaid_order" else value
            else:
                attributes[name[:64]] = value[:200]
        if "__error__" not in row:
            if behaviour:
                row["behaviour"] = behaviour
            if attributes:
                row["attributes"] = attributes
        yield row


def _jsonl_rows(text: str) -> Iterator[Any]:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as error:
            yield {"__error__": f"not JSON: {error.msg} at column {error.colno}"}


@router.post("/leads:import", status_code=202, response_model=ImportResult,
             summary="Import up to 100,000 leads from CSV or JSON lines (published to leads.received.v1)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}},
                 "application/x-ndjson": {"schema": {"type": "string"}}}}})
async def import_leads(request: Request, tenant: Tenant, broker: Broker, settings: Settings,
                       idempotency_key: IdempotencyKey = None, x_source: EventSource = None) -> ImportResult:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _CSV_TYPES | _JSONL_TYPES:
        raise Problem(415, "Unsupported Media Type",
                      "Send text/csv (with a header row) or application/x-ndjson (one JSON object per line).")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > settings.import_max_bytes:
            raise Problem(413, "Payload Too Large", f"An import may be at most {settings.import_max_bytes} bytes.")
    text = decode_upload(bytes(body))
    rows = _csv_rows(text) if content_type in _CSV_TYPES else _jsonl_rows(text)
    import_id = str(uuid.uuid5(_IMPORT_IDS, f"{tenant}|import|{idempotency_key}")) if idempotency_key \
        else str(uuid.uuid4())
    valid: list[tuple[int, LeadReceived]] = []
    errors: list[RowError] = []
    invalid = 0
    rows_seen = 0
    for number, row in enumerate(rows, start=1):
        rows_seen = number
        if number > settings.import_max_rows:
            raise Problem(413, "Too many rows", f"An import may have at most {settings.import_max_rows} rows. "
                                                "Split the file.")
        if number % 1000 == 0:
            await asyncio.sleep(0)  # a big file must not starve the consumers' heartbeats and the probes
        problem = row.get("__error__") if isinstance(row, dict) else "a row must be a JSON object"
        if problem is None:
            try:
                valid.append((number, LeadReceived.model_validate(row)))
                continue
            except ValidationError as error:
                problem = describe_validation_error(error)
        invalid += 1
        if len(errors) < 100:
            errors.append(RowError(row=number, error=problem))
    if rows_seen == 0:
        raise Problem(422, "Empty import", "The file has no data rows.")
    if not valid:
        raise Problem(422, "No valid rows", "Every row of the import is invalid.", errors=[e.model_dump() for e in errors])

    source = x_source or f"/http/lead-intake/imports/{import_id}"
    pending = []
    for number, lead in valid:
        _, sent = await _publish(broker, settings, lead, tenant=tenant, source=source,
                                 event_id=str(uuid.uuid5(_IMPORT_IDS, f"{import_id}|{number}")), confirm=False)
        pending.append(sent)
        if len(pending) >= 5000:
            await await_confirmations(pending)
            pending.clear()
    await await_confirmations(pending)
    return ImportResult(import_id=import_id, rows=rows_seen, accepted=len(valid), invalid=invalid, errors=errors)


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
async def get_lead(lead_id: str, tenant: Tenant, queries: Queries, caller: Caller) -> LeadView:
    view = await queries.lead(tenant=tenant, lead_id=lead_id, mask=not caller.has(*FULL_CONTACT_ROLES))
    if view is None:
        raise Problem(404, "Lead not found", f"No lead {lead_id!r} in tenant {tenant!r}.")
    return view


@router.get("/leads", response_model=LeadPage, summary="Search leads, newest first")
async def search_leads(
    tenant: Tenant,
    queries: Queries,
    settings: Settings,
    caller: Caller,
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
    return await queries.leads(tenant=tenant, search=search, limit=limit, cursor=cursor,
                               mask=not caller.has(*FULL_CONTACT_ROLES))


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


@dnc_router.get("", response_model=DoNotCallPage, summary="The do-not-call list, by number")
async def list_do_not_call(tenant: Tenant, queries: Queries, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                           cursor: Annotated[str | None, Query(max_length=40)] = None) -> DoNotCallPage:
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
