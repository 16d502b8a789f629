"""Idle reclaim (回收): wallets unused for the policy's idle days go back to the budget and are blocked
from allocations; a reallocation request, once approved, opens them again (`IdleWallet`,
`ReallocationRequest`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from .. import domain
from ..domain import BUDGET, Changes, DomainError, IdleWallet, ReallocationRequest, wallet
from ..store import Doc, Session
from .core import SYSTEM_ACTOR, LedgerCore, Result, utcnow


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
            idle = [IdleWallet(d["key"], d["owner"], int(d["balance"]), d["last_activity_at"])
                    for d in await ledger.store.idle_wallets_among(tenant, keys, cutoff, session)]
            changes = Changes(tenant, now, await ledger.store.balances(tenant, [BUDGET, *(w.key for w in idle)],
                                                                       session))
            assert changes.balances is not None
            done = []
            for w in idle:
                transfer, fields, event, report = w.reclaim(changes.balances, idle_days=idle_days, now=now,
                                                            by=SYSTEM_ACTOR)
                changes.transfers.append(transfer)
                changes.account_fields[w.key] = fields
                changes.events.append(event)
                done.append(report)
            return changes, done

        batch = await ledger.commit(build, [BUDGET, *keys])
        reclaimed += batch
        if not batch or len(candidates) < ledger.settings.sweep_batch_size:
            return reclaimed


async def reclaim_all(*, ledger: LedgerCore, now: datetime | None = None) -> int:
    total = 0
    for tenant in await ledger.store.tenants_with_funded_wallets():
        total += len(await reclaim_idle(ledger=ledger, tenant=tenant, now=now))
    return total


async def request_reallocation(*, ledger: LedgerCore, tenant: str, user_id: str, reason: str, actor: str) -> Doc:
    request = domain.open_request(request_id=uuid.uuid4().hex[:16], user_id=user_id, reason=reason, actor=actor,
                                  now=utcnow(), wallet_record=await ledger.store.account(tenant, wallet(user_id)))
    if not await ledger.store.insert_request(tenant, request):
        open_ = await ledger.store.pending_request_of(tenant, user_id)
        raise DomainError("request_pending", f"{user_id} has a pending request already",
                          request_id=open_["request_id"] if open_ else None)
    return request


async def decide_reallocation(*, ledger: LedgerCore, tenant: str, request_id: str, approve: bool, actor: str,
                              amount: int | None = None, reason: str | None = None) -> Result:
    """Approve (unblocking the wallet, with an optional allocation from the budget) or reject."""
    domain.check_decision_amount(approve=approve, amount=amount)
    now = utcnow()
    seen = await ledger.store.reallocation_request(tenant, request_id)
    accounts = [BUDGET, wallet(seen["user_id"])] if seen else []

    async def build(session: Session) -> tuple[Changes, Result]:
        record = await ledger.store.reallocation_request(tenant, request_id, session)
        request = ReallocationRequest.of(request_id, record)
        assert record is not None
        if request.decided_before(approve=approve, amount=amount):
            return Changes(tenant, now), Result(record, True)
        changes = Changes(tenant, now)
        allocation_id = None
        if approve:
            key = wallet(request.user_id)
            changes.balances = await ledger.store.balances(tenant, [BUDGET, key], session)
            info = ((await ledger.store.users_by_id(tenant, [request.user_id], session)).get(request.user_id, {})
                    if amount else {})
            fields, transfer, allocated = request.reopen(changes.balances, amount=amount, now=now, by=actor,
                                                         reason=reason, info=info)
            changes.account_fields[key] = fields
            changes.activity[key] = now  # the idle clock starts again
            if transfer is not None and allocated is not None:
                allocation_id = transfer.transfer_id
                changes.transfers.append(transfer)
                changes.events.append(allocated)
        decision, decided = request.decide(approve=approve, amount=amount, allocation_id=allocation_id, by=actor,
                                           reason=reason, now=now)
        changes.request_decisions.append(decision)
        changes.events.append(decided)
        return changes, Result(record | decision.fields, False)

    return await ledger.commit(build, accounts)
