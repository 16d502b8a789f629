"""Reclaim (不学回收): wallets whose holders learned nothing for the policy's idle days go back to the budget
and are blocked from allocations; a reallocation request, once the user qualifies and every level of the
approval chain approved it in order, opens them again (`IdleWallet`, `ReallocationRequest`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from telesales_contracts.ledger import ApprovalLevel

from .. import domain
from ..domain import BUDGET, Changes, DomainError, IdleWallet, LearningTotals, ReallocationRequest, wallet
from ..store import AlreadyWritten, Doc, Session
from .core import SYSTEM_ACTOR, LedgerCore, Result, utcnow


async def reclaim_idle(*, ledger: LedgerCore, tenant: str, now: datetime | None = None) -> list[Doc]:
    """Move the coins of wallets whose holders learned nothing for `idle_days` back to the budget (recording
    the holders' learning totals: the qualification counts from them) and block further allocations to them
    until a reallocation request is approved."""
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
            found = await ledger.store.idle_wallets_among(tenant, keys, cutoff, session)
            totals = await ledger.store.learning.totals(tenant, [d["owner"] for d in found], session)
            idle = [IdleWallet(d["key"], d["owner"], int(d["balance"]), d["last_activity_at"],
                               totals.get(d["owner"], LearningTotals())) for d in found]
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


async def _approvers(ledger: LedgerCore, tenant: str, team_id: str | None) -> dict[ApprovalLevel, list[str]]:
    """Who may approve at each roster level, as the ledger's roster knows them: the active supervisors of the
    user's team, the active managers (operators are not on the roster)."""
    limit = ledger.settings.allocation_max_recipients
    supervisors = (await ledger.store.select_users(tenant, {"role": "supervisor", "team_id": team_id,
                                                           "active": {"$ne": False}}, limit) if team_id else [])
    managers = await ledger.store.select_users(tenant, {"role": "manager", "active": {"$ne": False}}, limit)
    return {ApprovalLevel.SUPERVISOR: [d["user_id"] for d in supervisors],
            ApprovalLevel.MANAGER: [d["user_id"] for d in managers]}


async def request_reallocation(*, ledger: LedgerCore, tenant: str, user_id: str, reason: str, actor: str) -> Doc:
    """A request to get coins back, if the user's coins were reclaimed and the user qualifies; the chain's
    first level is told (ledger.reallocation-awaiting.v1)."""
    policy = await ledger.policy(tenant)
    team_id = ((await ledger.store.users_by_id(tenant, [user_id])).get(user_id) or {}).get("team_id")
    approvers = await _approvers(ledger, tenant, team_id)
    now = utcnow()

    async def build(session: Session) -> tuple[Changes, Doc]:
        pending = await ledger.store.pending_request_of(tenant, user_id, session)
        if pending is not None:
            raise DomainError("request_pending", f"{user_id} has a pending request already",
                              request_id=pending["request_id"])
        totals = (await ledger.store.learning.totals(tenant, [user_id], session)).get(user_id, LearningTotals())
        request, awaiting = domain.open_request(
            request_id=uuid.uuid4().hex[:16], user_id=user_id, team_id=team_id, reason=reason, actor=actor, now=now,
            wallet_record=await ledger.store.account(tenant, wallet(user_id), session), learned=totals,
            policy=policy.reallocation, approvers=approvers)
        changes = Changes(tenant, now)
        changes.new_requests.append(request)
        changes.events.append(awaiting)
        return changes, request

    try:
        return await ledger.commit(build)
    except AlreadyWritten as error:  # a concurrent request of the same user won (one pending per user)
        pending = await ledger.store.pending_request_of(tenant, user_id)
        raise DomainError("request_pending", f"{user_id} has a pending request already",
                          request_id=pending["request_id"] if pending else None) from error


async def decide_reallocation(*, ledger: LedgerCore, tenant: str, request_id: str, approve: bool, actor: str,
                              operator: bool, amount: int | None = None, reason: str | None = None) -> Result:
    """An approval at the caller's level (the last one unblocks the wallet, with an optional allocation from
    the budget) or a rejection, by the level whose turn it is (`ReallocationRequest`)."""
    domain.check_decision_amount(approve=approve, amount=amount)
    now = utcnow()
    seen = await ledger.store.reallocation_request(tenant, request_id)
    accounts = [BUDGET, wallet(seen["user_id"])] if seen else []
    approver = (await ledger.store.users_by_id(tenant, [actor])).get(actor) or {}
    level = domain.approver_level(roster_role=approver.get("role") if approver.get("active", True) else None,
                                  operator=operator)
    approvers = await _approvers(ledger, tenant, (seen or {}).get("team_id"))

    async def build(session: Session) -> tuple[Changes, Result]:
        record = await ledger.store.reallocation_request(tenant, request_id, session)
        request = ReallocationRequest.of(request_id, record)
        assert record is not None
        if request.decided_before(approve=approve, amount=amount, by=actor):
            return Changes(tenant, now), Result(record, True)
        request.check_turn(level=level, by=actor, approver_team=approver.get("team_id"), approve=approve,
                           amount=amount)
        assert level is not None
        changes = Changes(tenant, now)
        if approve and not request.is_last(level):
            decision, awaiting = request.approve_step(level=level, by=actor, now=now, approvers=approvers)
            changes.request_decisions.append(decision)
            changes.events.append(awaiting)
            return changes, Result(record | decision.fields, False)
        allocation_id = await _reopen(ledger, tenant, request, changes, session, amount=amount, actor=actor,
                                      reason=reason) if approve else None
        decision, decided = request.decide(approve=approve, level=level, amount=amount, allocation_id=allocation_id,
                                           by=actor, reason=reason, now=now)
        changes.request_decisions.append(decision)
        changes.events.append(decided)
        return changes, Result(record | decision.fields, False)

    return await ledger.commit(build, accounts)


async def _reopen(ledger: LedgerCore, tenant: str, request: ReallocationRequest, changes: Changes, session: Session,
                  *, amount: int | None, actor: str, reason: str | None) -> str | None:
    """The last approval: the user must still qualify; the wallet unblocked, its idle clock started again,
    and the optional allocation. Returns the allocation's id."""
    key = wallet(request.user_id)
    totals = (await ledger.store.learning.totals(tenant, [request.user_id], session)).get(request.user_id,
                                                                                          LearningTotals())
    domain.check_qualified(request.qualification, request.user_id,
                           domain.learning_since_reclaim(await ledger.store.account(tenant, key, session), totals))
    changes.balances = await ledger.store.balances(tenant, [BUDGET, key], session)
    info = ((await ledger.store.users_by_id(tenant, [request.user_id], session)).get(request.user_id, {})
            if amount else {})
    fields, transfer, allocated = request.reopen(changes.balances, amount=amount, now=changes.now, by=actor,
                                                 reason=reason, info=info)
    changes.account_fields[key] = fields
    changes.activity[key] = changes.now  # the idle clock starts again
    if transfer is None or allocated is None:
        return None
    changes.transfers.append(transfer)
    changes.events.append(allocated)
    return transfer.transfer_id
