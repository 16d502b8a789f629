"""A lead's consent, as rules (pure, no I/O).

A lead keeps the latest statement per scope (`ScopeConsent` as plain data, ordered by scope): an arrival's
statement (`consent` on leads.received.v1) names some scopes and grants or withdraws them; the scopes it does
not name stay as they were, and for a scope it names, the statement given later wins (by `given_at`; at the
same time, the later arrival). A statement dated after the arrival (beyond CLOCK_SKEW) is not believed: it is
not kept, and the inbox's answer says why. A statement that cannot be read at all refuses the event at the
contract (a dead letter naming the field).

Who may be called (`admission`): a lead whose telemarketing consent is withdrawn, never; one with no
telemarketing consent, only when its tenant does not require consent (`ConsentPolicy`). A lead refused is
rejected (leads.rejected.v1, `no_consent`) and nothing of it is stored: a later arrival of the same person
with consent qualifies it as a new lead. A known lead whose telemarketing consent is withdrawn by a later
arrival is announced (leads.consent-changed.v1) and the allocator closes it for good."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from telesales_contracts.consent import Consent, ConsentScope, telemarketing
from telesales_contracts.leads import Rejection, RejectionReason

CLOCK_SKEW = timedelta(minutes=5)  # a source's clock may run a little ahead of the event's time
ScopeRecord = dict[str, Any]  # a ScopeConsent as plain data (stored on the lead, sent on the events)


class ConsentPolicy(BaseModel):
    """A tenant's rules on consent (PUT /v1/config/consent)."""

    model_config = ConfigDict(extra="forbid")

    require_telemarketing_consent: bool = Field(
        default=False, description="true: a lead is qualified only with the person's telemarketing consent; "
                                   "leads without it are rejected as no_consent and never reach a pool.")


@dataclass(frozen=True, slots=True)
class Statement:
    """What an arrival states: a record per scope it names, or why its statement is not believed."""

    records: tuple[ScopeRecord, ...] = ()
    disbelieved: str | None = None


def statement(consent: Consent | None, *, received_at: datetime, source: str, event_id: str) -> Statement:
    """The records an arrival's consent gives, one per scope it names."""
    if consent is None:
        return Statement()
    if consent.given_at > received_at + CLOCK_SKEW:
        return Statement(disbelieved=f"consent given at {consent.given_at.isoformat()} is after the lead arrived "
                                     f"({received_at.isoformat()}): not kept")
    return Statement(tuple({"scope": scope.value, "granted": granted, "given_at": consent.given_at,
                            "statement": consent.statement, "evidence": consent.evidence, "source": source,
                            "event_id": event_id} for scope, granted in consent.decisions().items()))


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """A lead's consent after an arrival's statement, and which scopes it granted or withdrew."""

    consent: list[ScopeRecord]
    granted: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    changed: bool = False  # a scope's statement was replaced (granted, withdrawn, or stated again later)


def _at(record: Mapping[str, Any]) -> datetime:
    return record["given_at"]


def merge(current: Iterable[ScopeRecord], records: Iterable[ScopeRecord]) -> ConsentChange:
    """`current` with `records` applied: per scope, the later statement wins (at the same time, the new one)."""
    by_scope = {record["scope"]: record for record in current}
    granted, withdrawn, changed = [], [], False
    for record in records:
        before = by_scope.get(record["scope"])
        if before is not None and _at(before) > _at(record):
            continue  # an older statement than the lead has: it changes nothing
        by_scope[record["scope"]] = record
        changed = changed or before != record
        if before is None or bool(before["granted"]) != bool(record["granted"]):
            (granted if record["granted"] else withdrawn).append(record["scope"])
    ordered = [by_scope[scope.value] for scope in ConsentScope if scope.value in by_scope]
    return ConsentChange(ordered, granted, withdrawn, changed)


def admission(consent: Iterable[ScopeRecord], policy: ConsentPolicy, *, disbelieved: str | None = None
              ) -> Rejection | None:
    """Why a new lead with this consent may not enter the pools (no_consent), or None."""
    calls = telemarketing(list(consent))
    if calls is False:
        return Rejection(code=RejectionReason.NO_CONSENT, message="the person withdrew (or refused) telemarketing")
    if calls is None and policy.require_telemarketing_consent:
        why = f"; {disbelieved}" if disbelieved else ""
        return Rejection(code=RejectionReason.NO_CONSENT,
                         message=f"the tenant requires telemarketing consent and the lead has none{why}")
    return None
