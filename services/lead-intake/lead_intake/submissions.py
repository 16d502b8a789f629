"""Publishing submitted and imported leads to leads.received.v1, where the intake consumes them like any other
producer's. Ids derived from an Idempotency-Key make a retried submission the same event."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_contracts.leads import LeadReceived
from telesales_contracts.topics import LEADS_RECEIVED
from telesales_runtime.kafka import await_confirmations
from telesales_runtime.pii_crypto import Keyring

from . import domain
from .settings import LeadIntakeSettings

_IMPORT_IDS = uuid.UUID("6f1c7a52-8d0e-4c55-9a43-1f1e5f0a9b10")  # namespace of ids derived from Idempotency-Key
_CONFIRM_EVERY = 5000  # an import awaits the broker's confirmations in chunks of this many leads


class LeadSubmissions:
    def __init__(self, broker: KafkaBroker, settings: LeadIntakeSettings, keyring: Keyring) -> None:
        self.broker = broker
        self.settings = settings
        self.keyring = keyring

    def _partition_key(self, lead: LeadReceived, tenant: str) -> bytes | None:
        """Leads of one person go to one partition, so one consumer sees them in order: keyed by the blind index
        of the person's number (else email), never by the value itself (a key is not sealed anywhere)."""
        phone = domain.standardize_phone(lead.phone, lead.phone_region or self.settings.default_region)
        if phone is not None and phone.e164:
            return f"{tenant}/{self.keyring.blind_index(tenant, 'phone', phone.e164)}".encode()
        email, _ = domain.normalize_email(lead.email)
        return f"{tenant}/{self.keyring.blind_index(tenant, 'email', email)}".encode() if email else None

    async def _publish(self, lead: LeadReceived, *, tenant: str, source: str, event_id: str | None,
                       confirm: bool = True) -> tuple[str, Any]:
        attributes = {"id": event_id} if event_id else {}
        event = LEADS_RECEIVED.event(lead, source=source, tenantid=tenant, **attributes)
        sent = await self.broker.publish(event.to_json_bytes(), topic=LEADS_RECEIVED.name,
                                         key=self._partition_key(lead, tenant),
                                         headers={"content-type": CLOUDEVENTS_CONTENT_TYPE}, no_confirm=not confirm)
        return event.id, sent

    async def submit(self, *, tenant: str, lead: LeadReceived, source: str, idempotency_key: str | None) -> str:
        """The event id of the published lead. TimeoutError when the broker did not confirm it in time (a broker
        that stopped answering would hold the caller until the producer's own timeout, 40 s)."""
        event_id = str(uuid.uuid5(_IMPORT_IDS, f"{tenant}|{idempotency_key}")) if idempotency_key else None
        published, _ = await asyncio.wait_for(self._publish(lead, tenant=tenant, source=source, event_id=event_id),
                                              timeout=self.settings.publish_timeout_seconds)
        return published

    @staticmethod
    def import_id(*, tenant: str, idempotency_key: str | None) -> str:
        return str(uuid.uuid5(_IMPORT_IDS, f"{tenant}|import|{idempotency_key}")) if idempotency_key \
            else str(uuid.uuid4())

    async def publish_import(self, *, tenant: str, import_id: str, source: str | None,
                             leads: Sequence[tuple[int, LeadReceived]]) -> None:
        """Each row's lead, under an id of the import and its row number (an import sent again is the same events)."""
        source = source or f"/http/lead-intake/imports/{import_id}"
        pending = []
        for number, lead in leads:
            _, sent = await self._publish(lead, tenant=tenant, source=source,
                                          event_id=str(uuid.uuid5(_IMPORT_IDS, f"{import_id}|{number}")), confirm=False)
            pending.append(sent)
            if len(pending) >= _CONFIRM_EVERY:
                await await_confirmations(pending)
                pending.clear()
        await await_confirmations(pending)
