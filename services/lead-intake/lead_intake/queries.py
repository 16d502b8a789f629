"""The reads the HTTP API serves: what became of a submission, stored leads, the do-not-call list, the scoring
weights and the learned models. Reads only (writes go through the service); each answer is shaped by
schemas.py, the store does the reading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telesales_contracts.leads import Channel

from .schemas import DoNotCallEntry, DoNotCallPage, LeadPage, LeadView, ModelView, WeightsView
from .service import IntakeService
from .store import LeadFilter, LeadStore


@dataclass(frozen=True, slots=True)
class LeadSearch:
    """What a lead search asks for; every criterion given must hold (phone and email already standardized)."""

    phone_e164: str | None = None
    email: str | None = None
    grade: str | None = None
    channel: Channel | None = None
    business_line: str | None = None
    source_system: str | None = None
    external_id: str | None = None

    def as_filter(self) -> LeadFilter:
        fields = {"phone_e164": self.phone_e164, "email": self.email, "grade": self.grade,
                  "channel": self.channel.value if self.channel is not None else None,
                  "business_line": self.business_line}
        ref = {key: value.strip() for key, value in (("source_system", self.source_system),
                                                     ("external_id", self.external_id)) if value is not None}
        return LeadFilter(fields={k: v for k, v in fields.items() if v is not None}, ref=ref)


class IntakeQueries:
    def __init__(self, store: LeadStore, intake: IntakeService) -> None:
        self.store = store
        self.intake = intake

    async def submission(self, *, tenant: str, event_id: str) -> dict[str, Any] | None:
        """What the inbox says became of an event (None: not processed yet)."""
        return await self.store.submission(tenant, event_id)

    async def lead(self, *, tenant: str, lead_id: str, mask: bool) -> LeadView | None:
        doc = await self.store.get_lead(tenant, lead_id)
        return None if doc is None else LeadView.from_doc(doc, mask=mask)

    async def leads(self, *, tenant: str, search: LeadSearch, limit: int, cursor: str | None, mask: bool) -> LeadPage:
        """Newest first."""
        docs = await self.store.search_leads(tenant, search.as_filter(), limit, cursor)
        return LeadPage(items=[LeadView.from_doc(d, mask=mask) for d in docs],
                        next_cursor=docs[-1]["_id"] if len(docs) == limit else None)

    async def do_not_call(self, *, tenant: str, phone: str) -> DoNotCallEntry | None:
        doc = await self.store.get_do_not_call(tenant, phone)
        return None if doc is None else DoNotCallEntry.model_validate(doc)

    async def do_not_call_page(self, *, tenant: str, limit: int, cursor: str | None) -> DoNotCallPage:
        """In the order the numbers were listed."""
        docs = await self.store.list_do_not_call(tenant, limit, cursor)
        return DoNotCallPage(items=[DoNotCallEntry.model_validate(d) for d in docs],
                             next_cursor=str(docs[-1]["_id"]) if len(docs) == limit else None)

    async def weights(self, *, tenant: str) -> WeightsView:
        weights, version = await self.store.get_weights(tenant)
        return WeightsView(version=version, weights=weights.model_dump(mode="json"))

    async def models(self, *, tenant: str) -> list[ModelView]:
        """Outcomes learned per business line, and whether the weights in force let each model blend in."""
        weights = await self.intake.weights(tenant)
        return [
            ModelView(business_line=doc["business_line"], won=doc.get("won", 0), lost=doc.get("lost", 0),
                      active=weights.model_trusted(doc.get("won", 0), doc.get("lost", 0)))
            for doc in await self.store.list_models(tenant)
        ]
