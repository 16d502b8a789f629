"""Allocations (配置): coins from the operators' budget to users named, or to the roster's active users by
role, grade, team and business line; all or none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telesales_contracts.ledger import AllocationSelection

from ..domain import Allocation, Changes, DomainError
from ..store import Doc, Session
from .core import LedgerCore, Result, replay, utcnow


@dataclass(frozen=True)
class RosterSelection:
    """Users picked in bulk from the roster (active ones only): by role, grade, team and business line."""

    roles: tuple[str, ...] = ("agent",)
    grades: tuple[str, ...] = ()
    team_id: str | None = None
    business_line: str | None = None

    def query(self) -> Doc:
        query: Doc = {"active": {"$ne": False}, "role": {"$in": list(self.roles)}}
        if self.grades:
            query["grade"] = {"$in": list(self.grades)}
        if self.team_id is not None:
            query["team_id"] = self.team_id
        if self.business_line is not None:
            query["business_line"] = self.business_line
        return query

    def describe(self) -> Doc:
        return {"roles": list(self.roles), "grades": list(self.grades), "team_id": self.team_id,
                "business_line": self.business_line}


async def _recipients(ledger: LedgerCore, tenant: str, user_ids: Sequence[str] | None,
                      selection: RosterSelection | None) -> tuple[list[str], dict[str, Doc]]:
    """The users an allocation goes to, and their roster records."""
    limit = ledger.settings.allocation_max_recipients
    if user_ids is not None:
        recipients = list(dict.fromkeys(user_ids))
        roster = await ledger.store.users_by_id(tenant, recipients)
    else:
        assert selection is not None
        docs = await ledger.store.select_users(tenant, selection.query(), limit + 1)
        recipients = [d["user_id"] for d in docs]
        roster = {d["user_id"]: d for d in docs}
    if not recipients:
        raise DomainError("no_recipients", "no active user matches")
    if len(recipients) > limit:
        raise DomainError("too_many_recipients", f"at most {limit} users per allocation")
    return recipients, roster


async def allocate(*, ledger: LedgerCore, tenant: str, allocation_id: str, amount: int, actor: str,
                   user_ids: Sequence[str] | None = None, selection: RosterSelection | None = None,
                   note: str | None = None) -> Result:
    """Coins from the budget to each user named, or to each active user the roster selection matches,
    all or none (`Allocation.grant`)."""
    if (user_ids is None) == (selection is None):
        raise DomainError("invalid_allocation", "name users, or select them by role and grade")
    described = selection.describe() if selection else None
    print_ = Allocation.fingerprint_of(amount=amount, user_ids=user_ids, filter=described, note=note)
    existing = await ledger.store.operation(tenant, allocation_id)
    if existing is not None:
        return replay(existing, print_, allocation_id)
    recipients, roster = await _recipients(ledger, tenant, user_ids, selection)
    allocation = Allocation(allocation_id, amount, tuple(recipients), AllocationSelection.USERS if user_ids is not None
                            else AllocationSelection.ROSTER, described, note, print_)
    now = utcnow()

    async def build(session: Session) -> tuple[Changes, Result]:
        op = await ledger.store.operation(tenant, allocation_id, session)
        if op is not None:
            return Changes(tenant, now), replay(op, print_, allocation_id)
        changes = Changes(tenant, now, await ledger.store.balances(tenant, allocation.accounts(), session))
        assert changes.balances is not None
        operation, changes.transfers, changes.events = allocation.grant(changes.balances, roster, now=now, by=actor)
        changes.operations.append(operation)
        return changes, Result(operation.record(), False)

    return await ledger.commit_once(build, allocation.accounts())
