"""Erasure requests (a person's, by phone or email): lead-intake, which owns people's contact data, finds the
tenant's leads of the person, erases its own copies and publishes privacy.erasure-requested.v1 (lead ids
only) in the same transaction; every service answers privacy.erasure-completed.v1, recorded per service
here. A request (reason "request") also has a topic step (topic_erasure.py): the person removed from the
Kafka topics that carry personal data; it is complete when every service answered and that step is done.
The request and its completion are kept, never the phone or email erased."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from faststream import Context
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from telesales_contracts.privacy import ErasureRequested
from telesales_contracts.topics import PRIVACY_ERASURE_COMPLETED, PRIVACY_ERASURE_REQUESTED
from telesales_runtime.auth import Caller, Principal
from telesales_runtime.consumer import Delivery, consume_batch
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.erasure import OLDEST_INCOMPLETE
from telesales_runtime.http import Problem, Tenant, from_app_state
from telesales_runtime.kafka import consumed_description, subscriber_options
from telesales_runtime.periodic import PeriodicLoop

from . import domain
from .erasure_store import ErasureRequests
from .topic_erasure import needles_of


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)] | None = None
    reason: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="Why (e.g. the ticket of the privacy desk); kept with the request.")

    @model_validator(mode="after")
    def _names_someone(self) -> ErasureIn:
        if self.phone is None and self.email is None:
            raise ValueError("an erasure names a phone, an email or both")
        return self


class ServiceCompletion(BaseModel):
    completed_at: datetime
    counts: dict[str, int]


class TopicStep(BaseModel):
    completed_at: datetime | None = Field(description="When no topic held the person any more (None: pending).")
    partitions_truncated: int
    records_removed: int = Field(description="Records removed with the truncated ranges (the person's and the "
                                 "ones before them, which every consumer had processed).")
    dead_letters_kept: int = Field(description="Others' dead letters of truncated ranges copied forward.")
    waiting_on: list[str] = Field(default_factory=list, description="Partitions still holding the person, each "
                                  "with the consumer groups not yet past their record (the last pass).")


class ErasureView(BaseModel):
    request_id: str
    status: str = Field(description="complete (every expected service answered and, for a request, no Kafka "
                        "topic holds the person any more), pending, or nothing_found (no lead of the tenant has "
                        "that phone or email: no event was published; the topic step still runs, completed_at "
                        "says when it is done).")
    reason: str
    note: str | None
    requested_by: dict[str, Any]
    requested_at: datetime
    completed_at: datetime | None
    lead_ids: list[str] | None
    expected_services: list[str]
    services: dict[str, ServiceCompletion]
    topics: TopicStep | None = Field(default=None, description="The topic step: every request, and a retention "
                                     "erasure of leads changed more recently than the topics keep personal data "
                                     "(the others are on no topic any more).")


class ErasurePage(BaseModel):
    items: list[ErasureView]
    next_before: datetime | None


def view_of(doc: dict[str, Any]) -> ErasureView:
    status = "nothing_found" if doc.get("lead_ids") == [] else "complete" if doc.get("completed_at") else "pending"
    return ErasureView(request_id=doc["_id"], status=status, reason=doc.get("reason", "request"),
                       note=doc.get("note"), requested_by=doc.get("requested_by") or {},
                       requested_at=doc["requested_at"], completed_at=doc.get("completed_at"),
                       lead_ids=doc.get("lead_ids"), expected_services=doc.get("expected_services") or [],
                       services=doc.get("services") or {},
                       topics=TopicStep.model_validate(doc["topics"]) if doc.get("topics") else None)


class ErasureService:
    def __init__(self, *, requests: ErasureRequests, settings: Any, dead_letters: DeadLetterPublisher,
                 notify: Any) -> None:
        self.requests = requests
        self.settings = settings
        self.dead_letters = dead_letters
        self.notify = notify
        OLDEST_INCOMPLETE.labels(settings.service_name).set(0)  # exposed from the start: the alert reads it

    async def request(self, *, tenant: str, caller: Principal, body: ErasureIn) -> ErasureView:
        phones = [self._phone(body.phone)] if body.phone else []
        email, _ = domain.normalize_email(body.email)
        emails = [email] if email else []
        lead_ids = await self.requests.lead_ids_of(tenant, phones, emails)
        people = await self.requests.people_of(tenant, lead_ids) if lead_ids else []
        now = datetime.now(UTC)
        request_id = f"erasure-{uuid.uuid4().hex}"
        record = {"_id": request_id, "tenant_id": tenant, "reason": "request", "note": body.reason,
                  "requested_by": {"sub": caller.sub, "roles": sorted(caller.roles)}, "requested_at": now,
                  "lead_ids": lead_ids, "expected_services": self.requests.expected, "services": {},
                  "completed_at": None if lead_ids or self.settings.topic_erasure_enabled else now}
        if self.settings.topic_erasure_enabled:  # with no lead too: a rejected arrival's number is on the topics
            record.update(self.requests.topic_step(tenant, needles_of(phones, emails, people)))
        event = PRIVACY_ERASURE_REQUESTED.event(
            ErasureRequested(request_id=request_id, lead_ids=lead_ids, reason="request"),
            source=self.settings.source, tenantid=tenant) if lead_ids else None
        doc = await self.requests.create(tenant=tenant, record=record, phones=phones, emails=emails, event=event)
        if event is not None:
            self.notify()
        return view_of(doc)

    def _phone(self, raw: str) -> str:
        parsed = domain.standardize_phone(raw, self.settings.default_region)
        if parsed is None or not parsed.valid or parsed.e164 is None:
            raise Problem(422, "Invalid phone", f"{raw!r} is not a valid phone number.")
        return parsed.e164

    async def handle_completed(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            data = delivery.event.data
            await self.requests.record_completion(tenant=delivery.event.tenantid, request_id=data.request_id,
                                                  service=data.service, counts=data.counts,
                                                  source=delivery.event.source)
        await self.show_oldest()

    async def show_oldest(self) -> None:
        oldest = await self.requests.oldest_incomplete()
        age = 0.0 if oldest is None else (datetime.now(UTC) - oldest.replace(tzinfo=UTC)).total_seconds()
        OLDEST_INCOMPLETE.labels(self.settings.service_name).set(max(0.0, age))


class ErasureWatch(PeriodicLoop):
    """Keeps telesales_erasure_oldest_incomplete_seconds current between answers (the alert reads it)."""

    def __init__(self, service: ErasureService, interval_seconds: float = 30) -> None:
        super().__init__(interval_seconds=interval_seconds, task_name="erasure-watch")
        self.service = service

    async def tick(self) -> None:
        await self.service.show_oldest()


def subscribe_completions(router: KafkaRouter, settings: Any) -> None:
    topic = PRIVACY_ERASURE_COMPLETED

    @router.subscriber(topic.name, batch=True, max_records=200, title=f"{topic.name}:consume",
                       description=consumed_description(topic),
                       **subscriber_options(settings, f"{settings.consumer_group}.{topic.name}"))
    async def on_erasure_completed(body: list[bytes], message: KafkaMessage,
                                   erasures: ErasureService = Context("erasures")) -> None:  # noqa: B008
        await consume_batch(topic, message.raw_message, erasures.dead_letters, erasures.handle_completed)


# ---- HTTP ------------------------------------------------------------------------------------------------

ACCESS = {
    "POST /v1/erasures": ("operator", "service"),
    "GET /v1/erasures/{request_id}": ("operator", "service", "auditor"),
    "GET /v1/erasures": ("operator", "service", "auditor"),
}
erasure_router = APIRouter(prefix="/v1/erasures", tags=["erasures"])
Erasures = Annotated[ErasureService, Depends(from_app_state("erasures"))]


@erasure_router.post("", status_code=202, response_model=ErasureView,
                     summary="Erase a person's data everywhere (by phone and/or email)")
async def post_erasure(body: ErasureIn, tenant: Tenant, caller: Caller, erasures: Erasures) -> ErasureView:
    return await erasures.request(tenant=tenant, caller=caller, body=body)


@erasure_router.get("/{request_id}", response_model=ErasureView, summary="An erasure request and its completion")
async def get_erasure(request_id: str, tenant: Tenant, erasures: Erasures) -> ErasureView:
    doc = await erasures.requests.get(tenant, request_id)
    if doc is None:
        raise Problem(404, "No such erasure request", f"The tenant has no erasure request {request_id!r}.")
    return view_of(doc)


@erasure_router.get("", response_model=ErasurePage, summary="Erasure requests, newest first")
async def list_erasures(tenant: Tenant, erasures: Erasures, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        before: datetime | None = None) -> ErasurePage:
    docs = await erasures.requests.page(tenant, limit, before)
    items = [view_of(doc) for doc in docs]
    return ErasurePage(items=items, next_before=items[-1].requested_at if len(items) == limit else None)
