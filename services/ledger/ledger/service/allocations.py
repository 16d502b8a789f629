"""Allocations (配置): coins from the operators' budget to users named, or to the roster's active users by
role, grade, team and business line; all or none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telesales_contracts.ledger import AllocationSelection, CoinsAllocated
from telesales_contracts.topics import LEDGER_COINS_ALLOCATED

from .. import domain
from ..domain import BUDGET, DomainError, Move, wallet
from ..store import Changes, Doc, Session, scoped
from .core import LedgerCore, Result, move_all_or_explain, replay, transfer_doc, utcnow


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
    all or none. Users whose wallet was reclaimed are skipped (they need an approved request)."""
    if (user_ids is None) == (selection is None):
        raise DomainError("invalid_allocation", "name users, or select them by role and grade")
    if not 0 < amount <= domain.MAX_AMOUNT:
        raise DomainError("invalid_amount", f"amounts are whole coins from 1 to {domain.MAX_AMOUNT}")
    print_ = domain.fingerprint({"op": "allocation", "amount": amount, "users": list(user_ids or []),
                                "selection": selection.describe() if selection else None, "note": note})
    existing = await ledger.store.operation(tenant, allocation_id)
    if existing is not None:
        return replay(existing, print_, allocation_id)
    recipients, roster = await _recipients(ledger, tenant, user_ids, selection)
    how = AllocationSelection.USERS if user_ids is not None else AllocationSelection.ROSTER
    now = utcnow()
    accounts = [BUDGET, *(wallet(u) for u in recipients)]

    async def build(session: Session) -> tuple[Changes, Result]:
        op = await ledger.store.operation(tenant, allocation_id, session)
        if op is not None:
            return Changes(tenant, now), replay(op, print_, allocation_id)
        balances = await ledger.store.balances(tenant, accounts, session)
        granted = [u for u in recipients if not balances.state(wallet(u)).allocation_blocked]
        skipped = [{"user_id": u, "reason": "reallocation_needs_approval"} for u in recipients if u not in granted]
        if not granted:
            raise DomainError("reallocation_needs_approval", "every user named had their coins reclaimed: each "
                              "needs an approved reallocation request first", skipped=skipped)
        move_all_or_explain(balances, [Move(BUDGET, wallet(u), amount) for u in granted],
                            lambda: f"the budget holds {balances.balance(BUDGET)} coins; "
                                    f"{amount * len(granted)} needed for {len(granted)} users")
        changes = Changes(tenant, now, balances)
        allocated = []
        for user in granted:
            doc = transfer_doc(tenant, f"{allocation_id}/{user}", kind="allocation", debit=BUDGET,
                               credit=wallet(user), amount=amount, now=now, by=actor, linked_group=allocation_id,
                               note=note)
            changes.transfers.append(doc)
            allocated.append({"user_id": user, "transfer_id": doc["transfer_id"]})
            info = roster.get(user, {})
            changes.outbox.append(ledger.row(LEDGER_COINS_ALLOCATED, CoinsAllocated(
                allocation_id=allocation_id, transfer_id=doc["transfer_id"], user_id=user, amount=amount,
                selection=how, role=info.get("role"), grade=info.get("grade"), allocated_by=actor, note=note,
                allocated_at=now), tenant, user))
        op_doc = {"_id": scoped(tenant, allocation_id), "tenant_id": tenant, "op_id": allocation_id,
                  "kind": "allocation", "fingerprint": print_, "amount": amount, "selection": how.value,
                  "filter": selection.describe() if selection else None, "allocated": allocated,
                  "skipped": skipped, "total": amount * len(granted), "by": actor, "note": note, "created_at": now}
        changes.operations.append(op_doc)
        return changes, Result(op_doc, False)

    return await ledger.commit_once(build, accounts)
