"""Logging a call: the allocator must allow the caller to dial the lead now (`POST /v1/leads/{id}/dial`, asked
with the caller's own token: only its holder, not while it rests, never a do-not-call number); the call is
published once per call_id, however often the client retries."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from faststream.kafka import KafkaBroker

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_contracts.activity import CallLogged
from telesales_contracts.topics import CALLS_LOGGED
from telesales_runtime.auth import Principal
from telesales_runtime.http import Problem, coded_problem

from . import domain
from .settings import ConsoleSettings
from .store import SessionStore


class AllocatorRefused(Exception):
    """The allocator's own 401/403/404 about the lead, to be given to the caller as it came."""

    def __init__(self, answer: httpx.Response) -> None:
        super().__init__(answer.status_code)
        self.answer = answer


@dataclass(frozen=True)
class CallLogger:
    settings: ConsoleSettings
    store: SessionStore
    broker: KafkaBroker
    http: httpx.AsyncClient

    async def log(self, *, caller: Principal, token: str, call: CallLogged) -> str:
        """The call's event id, once it is published (or was, by an earlier try with the same call_id)."""
        event_id = domain.call_event_id(tenant=caller.tenant, agent_id=caller.sub, call_id=call.call_id)
        if await self.store.call_logged(event_id):  # a retry of a call the broker already confirmed
            return event_id
        await self._check_dial(lead_id=call.lead_id, caller=caller, token=token)
        event = CALLS_LOGGED.event(call, source=self.settings.source, tenantid=caller.tenant, id=event_id)
        timeout = self.settings.publish_timeout_seconds
        try:
            # A broker that stopped answering would hold the request until the producer's own timeout: answer
            # 503 in time instead; a retry with the same call_id is the same event.
            await asyncio.wait_for(self.broker.publish(event.to_json_bytes(), topic=CALLS_LOGGED.name,
                                                       key=call.lead_id.encode(),
                                                       headers={"content-type": CLOUDEVENTS_CONTENT_TYPE}),
                                   timeout=timeout)
        except TimeoutError:
            raise Problem(503, "Broker unavailable", f"The message broker did not confirm the call within "
                          f"{timeout:g} s; retry later with the same call_id.", headers={"Retry-After": "5"}) from None
        await self.store.mark_call_logged(event_id, tenant=caller.tenant, agent_id=caller.sub, call_id=call.call_id,
                                          logged_at=datetime.now(UTC))
        return event_id

    async def _check_dial(self, *, lead_id: str, caller: Principal, token: str) -> None:
        """Refuse unless the allocator allows `caller` to dial the lead now: 403 `not_your_lead` for a lead
        the caller does not hold, 409 `dial_refused` with the allocator's `reason` (resting, do_not_call,
        closed, won) and `rest_until` otherwise."""
        try:
            # check_only: logging a call binds no middle number (the call went through one already, or none)
            answer = await self.http.post(f"{self.settings.allocator_url.rstrip('/')}/v1/leads/{lead_id}/dial",
                                          json={"check_only": True}, headers={"Authorization": f"Bearer {token}",
                                                            "Accept": "application/json"})
        except httpx.TimeoutException as error:
            raise Problem(504, "Gateway timeout", "The allocator did not answer in time.",
                          code="upstream_timeout") from error
        except httpx.HTTPError as error:
            raise Problem(502, "Bad gateway", "The allocator does not answer.", code="upstream_unavailable") from error
        if answer.status_code in (401, 403, 404):
            raise AllocatorRefused(answer)
        if answer.status_code != 200:
            raise Problem(502, "Bad gateway", f"The allocator answered {answer.status_code}.", code="upstream_failed")
        verdict = answer.json()
        if verdict.get("allowed") is True:
            return
        reason = verdict.get("reason")
        if reason in ("not_the_holder", "not_held"):
            raise coded_problem(403, "not_your_lead", f"{caller.sub} does not hold lead {lead_id}.")
        raise coded_problem(409, "dial_refused", f"The allocator refuses to let {caller.sub} dial lead {lead_id}: "
                            f"{verdict.get('detail') or reason}.", reason=reason, rest_until=verdict.get("rest_until"))
