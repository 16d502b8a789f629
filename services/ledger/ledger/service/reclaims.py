"""Idle reclaim (回收): wallets unused for the policy's idle days go back to the budget and are blocked
from allocations; a reallocation request, once approved, opens them again."""

from __future__ import annotations

import uuid
from datetime import datetime

from telesales_contracts.ledger import AllocationSelection, CoinsAllocated, CoinsReclaimed, ReallocationDecided
from telesales_contracts.topics import LEDGER_COINS_ALLOCATED, LEDGER_COINS_RECLAIMED, LEDGER_REALLOCATION_DECIDED

from .. import domain
from ..domain import BUDGET, DomainError, wallet
from ..store import Changes, Doc, Session, scoped
from .core import SYSTEM_ACTOR, LedgerCore, Result, transfer_doc, utcnow


async def reclaim_idle(*, ledger: LedgerCore, tenant: str, now: datetime | None = None) -> list[Doc]:
    """Move the coins of wallets unused for `idle_days` back to the budget and block further
    allocations to them until a reallocation request is approved."""
    now = now or utcnow()
    policy = await ledger.policy(tenant)
    if policy.idle_days is None:
        return []
    idle_days = policy.idle_days
    cutoff = domain.idle_cutoff(now, idle_days)
    reclaimed: list[Doc] = []
    while True:
        candidates = await ledger.store.idle_wallets(tenant, cutoff, ledger.settings.sweep_batch_size)
        if not candidates:
            return reclaimed
        keys = [c["key"] for c in candidates]

        async def build(session: Session, keys: list[str] = keys) -> tuple[Changes, list[Doc]]:
            docs = await ledger.store.idle_wallets_among(tenant, keys, cutoff, session)
            balances = await ledger.store.balances(tenant, [BUDGET, *(d["key"] for d in docs)], session)
            changes = Changes(tenant, now, balances)
            return changes, [_reclaim(ledger, changes, account, idle_days) for account in docs]

        batch = await ledger.commit(build, [BUDGET, *keys])
        reclaimed += batch
        if not batch or len(candidates) < ledger.settings.sweep_batch_size:
            return reclaimed


def _reclaim(ledger: LedgerCore, changes: Changes, account: Doc, idle_days: int) -> Doc:
    """One idle wallet's coins back to the budget, the wallet blocked."""
    tenant, now = changes.tenant, changes.now
    user, amount = account["owner"], int(account["balance"])
    assert changes.balances is not None
    changes.balances.move(account["key"], BUDGET, amount)
    transfer_id = f"reclaim/{user}/{now.strftime('%Y%m%dT%H%M%S%f')}"
    changes.transfers.append(transfer_doc(
        tenant, transfer_id, kind="reclaim", debit=account["key"], credit=BUDGET, amount=amount,
        now=now, by=SYSTEM_ACTOR, idle_since=account["last_activity_at"], idle_days=idle_days))
    changes.account_fields[account["key"]] = {"allocation_blocked": True, "reclaimed_at": now}
    changes.outbox.append(ledger.row(LEDGER_COINS_RECLAIMED, CoinsReclaimed(
        transfer_id=transfer_id, user_id=user, amount=amount, last_activity_at=account["last_activity_at"],
        idle_days=idle_days, reclaimed_at=now), tenant, user))
    return {"user_id": user, "amount": amount, "transfer_id": transfer_id,
            "last_activity_at": account["last_activity_at"]}


async def reclaim_all(*, ledger: LedgerCore, now: datetime | None = None) -> int:
    total = 0
    for tenant in await ledger.store.tenants_with_funded_wallets():
        total += len(await reclaim_idle(ledger=ledger, tenant=tenant, now=now))
    return total


async def request_reallocation(*, ledger: LedgerCore, tenant: str, user_id: str, reason: str, actor: str) -> Doc:
    account = await ledger.store.account(tenant, wallet(user_id))
    if account is None or not account.get("allocation_blocked"):
        raise DomainError("not_reclaimed", f"{user_id}'s coins were not reclaimed: allocate to them directly")
    now = utcnow()
    request_id = uuid.uuid4().hex[:16]
    doc = {"_id": scoped(tenant, request_id), "tenant_id": tenant, "request_id": request_id, "user_id": user_id,
           "reason": reason, "status": "pending", "requested_by": actor, "requested_at": now}
    if not await ledger.store.insert_request(doc):
        open_ = await ledger.store.pending_request_of(tenant, user_id)
        raise DomainError("request_pending", f"{user_id} has a pending request already",
                          request_id=open_["request_id"] if open_ else None)
    return doc


async def decide_reallocation(*, ledger: LedgerCore, tenant: str, request_id: str, approve: bool, actor: str,
                              amount: int | None = None, reason: str | None = None) -> Result:
    """Approve (unblocking the wallet, with an optional allocation from the budget) or reject."""
    decision = "approved" if approve else "rejected"
    if amount is not None and (not approve or not 0 < amount <= domain.MAX_AMOUNT):
        raise DomainError("invalid_amount", "an amount goes only with an approval, in whole coins above 0")
    now = utcnow()
    seen = await ledger.store.reallocation_request(tenant, request_id)
    accounts = [BUDGET, wallet(seen["user_id"])] if seen else []

    async def build(session: Session) -> tuple[Changes, Result]:
        request = await ledger.store.reallocation_request(tenant, request_id, session)
        if request is None:
            raise DomainError("unknown_request", f"there is no reallocation request {request_id!r}")
        if request["status"] != "pending":
            if request["status"] == decision and request.get("amount") == amount:
                return Changes(tenant, now), Result(request, True)
            raise DomainError("request_decided", f"request {request_id} was {request['status']} already")
        user = request["user_id"]
        changes = Changes(tenant, now)
        allocation_id = None
        if approve:
            allocation_id = await _reopen(ledger, changes, request, amount=amount, actor=actor, reason=reason,
                                          session=session)
        fields = {"status": decision, "decided_by": actor, "decided_at": now, "amount": amount,
                  "allocation_id": allocation_id, "decision_reason": reason}
        changes.request_updates.append(({"_id": request["_id"], "status": "pending"}, {"$set": fields}))
        changes.outbox.append(ledger.row(LEDGER_REALLOCATION_DECIDED, ReallocationDecided(
            request_id=request_id, user_id=user, decision=decision, amount=amount, allocation_id=allocation_id,
            decided_by=actor, reason=reason, decided_at=now), tenant, user))
        return changes, Result(request | fields, False)

    return await ledger.commit(build, accounts)


async def _reopen(ledger: LedgerCore, changes: Changes, request: Doc, *, amount: int | None, actor: str,
                  reason: str | None, session: Session) -> str | None:
    """An approval: the wallet unblocked, its idle clock started again, and the optional allocation."""
    tenant, now, user, request_id = changes.tenant, changes.now, request["user_id"], request["request_id"]
    key = wallet(user)
    changes.balances = await ledger.store.balances(tenant, [BUDGET, key], session)
    changes.account_fields[key] = {"allocation_blocked": False, "reopened_at": now}
    changes.activity[key] = now  # the idle clock starts again
    if not amount:
        return None
    allocation_id = f"reallocation/{request_id}"
    changes.balances.move(BUDGET, key, amount)
    changes.transfers.append(transfer_doc(
        tenant, allocation_id, kind="allocation", debit=BUDGET, credit=key, amount=amount, now=now,
        by=actor, note=reason, request_id=request_id))
    info = (await ledger.store.users_by_id(tenant, [user], session)).get(user, {})
    changes.outbox.append(ledger.row(LEDGER_COINS_ALLOCATED, CoinsAllocated(
        allocation_id=allocation_id, transfer_id=allocation_id, user_id=user, amount=amount,
        selection=AllocationSelection.APPROVAL, role=info.get("role"), grade=info.get("grade"),
        allocated_by=actor, note=reason, allocated_at=now), tenant, user))
    return allocation_id
