"""Direct transfers, issues and holds over HTTP (posted at once, or pending until posted, voided or timed out),
and the sweep voiding holds past their timeout. The rules are the domain's `TransferGroup` and `Hold`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..domain import BUDGET, ISSUANCE, Changes, DomainError, Hold, HoldMode, TransferGroup, TransferSpec
from ..store import Doc, Session
from .core import SYSTEM_ACTOR, LedgerCore, Result, utcnow


async def transfer(*, ledger: LedgerCore, tenant: str, specs: Sequence[TransferSpec], actor: str,
                   linked: bool = False, issue: bool = False) -> tuple[list[Doc], bool]:
    """Record transfers, all or none (a linked group; a single transfer is a group of one). Returns the
    transfer records and whether they were recorded before (a retry with the same ids and content)."""
    group = TransferGroup(specs, linked=linked, issue=issue)
    policy = await ledger.policy(tenant)
    now = utcnow()

    async def build(session: Session) -> tuple[Changes, tuple[list[Doc], bool]]:
        existing = await ledger.store.transfers_by_id(tenant, group.ids, session)
        if group.recorded_before(existing):
            return Changes(tenant, now), ([existing[t] for t in group.ids], True)
        changes = Changes(tenant, now, await ledger.store.balances(tenant, group.accounts, session))
        assert changes.balances is not None
        changes.transfers = group.record(changes.balances, now=now, by=actor,
                                         hold_timeout_seconds=policy.hold_timeout_seconds)
        changes.events = [t.recorded() for t in changes.transfers]
        return changes, ([t.record() for t in changes.transfers], False)

    return await ledger.commit_once(build, group.accounts)


async def issue(*, ledger: LedgerCore, tenant: str, transfer_id: str, amount: int, actor: str,
                note: str | None) -> tuple[Doc, bool]:
    """New coins into the operators' budget (the issuance account goes negative by as much)."""
    docs, replayed = await transfer(ledger=ledger, tenant=tenant, actor=actor, issue=True,
                                    specs=[TransferSpec(transfer_id, ISSUANCE, BUDGET, amount, "issue", note=note)])
    return docs[0], replayed


async def settle(*, ledger: LedgerCore, tenant: str, hold_id: str, mode: HoldMode, post_amount: int | None,
                 actor: str, now: datetime | None = None) -> Result:
    """Post, void or expire a hold (`Hold.settle`); a post of a hold past its timeout voids it and then
    fails with `hold_expired`."""
    now = now or utcnow()
    seen = await ledger.store.transfer(tenant, hold_id)
    accounts = [seen[k] for k in ("debit", "credit", "target") if k in seen] if seen else []

    async def build(session: Session) -> tuple[Changes, tuple[Result, bool]]:
        record = await ledger.store.transfer(tenant, hold_id, session)
        hold = Hold.of(hold_id, record)
        assert record is not None
        settlement = hold.settle(mode=mode, post_amount=post_amount, now=now)
        if settlement is None:
            return Changes(tenant, now), (Result(record, True), False)
        changes = Changes(tenant, now, await ledger.store.balances(tenant, [hold.source, hold.escrow, hold.target],
                                                                   session))
        assert changes.balances is not None
        changes.transfers, resolution = settlement.apply(changes.balances, actor=actor, system=SYSTEM_ACTOR)
        changes.events = [t.recorded() for t in changes.transfers]
        changes.hold_resolutions.append(resolution)
        return changes, (Result(record | resolution.fields, False), settlement.refused)

    result, refused = await ledger.commit(build, accounts)
    if refused:
        raise DomainError("hold_expired", f"hold {hold_id} passed its timeout and was voided")
    return result


async def expire_holds(*, ledger: LedgerCore, now: datetime | None = None) -> int:
    """Void every hold past its timeout (the sweeper's job). Returns how many were voided."""
    now = now or utcnow()
    voided = 0
    batch_size = ledger.settings.sweep_batch_size
    while True:
        holds = await ledger.store.expired_holds(now, batch_size)
        for hold in holds:
            try:
                result = await settle(ledger=ledger, tenant=hold["tenant_id"], hold_id=hold["transfer_id"],
                                      mode="expire", post_amount=None, actor=SYSTEM_ACTOR, now=now)
            except DomainError:
                continue
            voided += not result.replayed
        if len(holds) < batch_size:
            return voided
