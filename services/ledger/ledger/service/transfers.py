"""Direct transfers, issues and holds over HTTP (posted at once, or pending until posted, voided or timed out),
and the sweep voiding holds past their timeout."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from .. import domain
from ..domain import BUDGET, ISSUANCE, DomainError, Move, TransferSpec, escrow
from ..store import PENDING, POSTED, VOIDED, Changes, Doc, Session
from .core import SYSTEM_ACTOR, LedgerCore, Result, transfer_doc, utcnow


async def transfer(*, ledger: LedgerCore, tenant: str, specs: Sequence[TransferSpec], actor: str,
                   linked: bool = False, issue: bool = False) -> tuple[list[Doc], bool]:
    """Record transfers, all or none (a linked group; a single transfer is a group of one). Returns the
    transfer documents and whether they were recorded before (a retry with the same ids and content)."""
    if not specs:
        raise DomainError("no_transfers", "send at least one transfer")
    for spec in specs:
        domain.check_transfer(spec, issue=issue)
    ids = [s.transfer_id for s in specs]
    if len(set(ids)) != len(ids):
        raise DomainError("duplicate_id", "each transfer of a group needs its own id")
    group = ids[0] if linked else None
    prints = {s.transfer_id: s.fingerprint(group) for s in specs}
    policy = await ledger.policy(tenant)
    now = utcnow()
    accounts = [k for s in specs for k in (s.debit, s.credit, escrow(s.debit))]

    async def build(session: Session) -> tuple[Changes, tuple[list[Doc], bool]]:
        existing = await ledger.store.transfers_by_id(tenant, ids, session)
        if existing:
            if len(existing) == len(ids) and all(existing[t].get("fingerprint") == prints[t] for t in ids):
                return Changes(tenant, now), ([existing[t] for t in ids], True)
            clash = next(iter(existing))
            raise DomainError("transfer_id_conflict", f"transfer id {clash} was used before with other content",
                              transfer_id=clash)
        balances = await ledger.store.balances(tenant, accounts, session)
        balances.move_all([m for s in specs for m in s.moves()])
        changes = Changes(tenant, now, balances)
        for spec in specs:
            doc = _spec_doc(tenant, spec, now=now, actor=actor, group=group, fingerprint=prints[spec.transfer_id],
                            timeout_seconds=spec.timeout_seconds or policy.hold_timeout_seconds)
            changes.transfers.append(doc)
            changes.outbox.append(ledger.recorded_row(tenant, doc))
            if spec.debit.startswith("wallet:"):
                changes.activity[spec.debit] = now
        return changes, (changes.transfers, False)

    return await ledger.commit_once(build, accounts)


def _spec_doc(tenant: str, spec: TransferSpec, *, now: datetime, actor: str, group: str | None, fingerprint: str,
              timeout_seconds: int) -> Doc:
    if spec.pending:
        return transfer_doc(tenant, spec.transfer_id, kind=spec.kind, debit=spec.debit, credit=escrow(spec.debit),
                            amount=spec.amount, now=now, by=actor, state=PENDING, linked_group=group,
                            fingerprint=fingerprint, target=spec.credit,
                            expires_at=now + timedelta(seconds=timeout_seconds), note=spec.note)
    return transfer_doc(tenant, spec.transfer_id, kind=spec.kind, debit=spec.debit, credit=spec.credit,
                        amount=spec.amount, now=now, by=actor, linked_group=group, fingerprint=fingerprint,
                        note=spec.note)


async def issue(*, ledger: LedgerCore, tenant: str, transfer_id: str, amount: int, actor: str,
                note: str | None) -> tuple[Doc, bool]:
    """New coins into the operators' budget (the issuance account goes negative by as much)."""
    docs, replayed = await transfer(ledger=ledger, tenant=tenant, actor=actor, issue=True,
                                    specs=[TransferSpec(transfer_id, ISSUANCE, BUDGET, amount, "issue", note=note)])
    return docs[0], replayed


async def settle(*, ledger: LedgerCore, tenant: str, hold_id: str, mode: str, post_amount: int | None, actor: str,
                 now: datetime | None = None) -> Result:
    """mode: post, void, or expire (void only if past its timeout). A hold found past its timeout is
    voided whatever the mode, and a post of it then fails with `hold_expired`."""
    now = now or utcnow()
    seen = await ledger.store.transfer(tenant, hold_id)
    accounts = [seen[k] for k in ("debit", "credit", "target") if k in seen] if seen else []

    async def build(session: Session) -> tuple[Changes, tuple[Result, bool]]:
        hold = await ledger.store.transfer(tenant, hold_id, session)
        if hold is None or hold.get("kind") == "purchase" or "target" not in hold:
            raise DomainError("unknown_hold", f"there is no hold {hold_id!r}")
        unchanged = Changes(tenant, now), (Result(hold, True), False)
        if hold["state"] == POSTED:
            if mode == "expire" or (mode == "post" and post_amount in (None, hold.get("posted_amount"))):
                return unchanged
            raise DomainError("hold_posted", f"hold {hold_id} was posted already")
        if hold["state"] == VOIDED:
            if mode != "post":
                return unchanged
            code = "hold_expired" if hold.get("void_reason") == "expired" else "hold_voided"
            raise DomainError(code, f"hold {hold_id} was voided ({hold.get('void_reason')})")
        expired = hold["expires_at"] <= now
        if mode == "expire" and not expired:
            return unchanged
        voiding = mode != "post" or expired
        balances = await ledger.store.balances(tenant, [hold["debit"], hold["credit"], hold["target"]], session)
        changes = Changes(tenant, now, balances)
        fields = _settle_legs(ledger, changes, hold, mode=mode, voiding=voiding, post_amount=post_amount, actor=actor)
        changes.transfer_updates.append(({"_id": hold["_id"], "state": PENDING}, {"$set": fields}))
        return changes, (Result(hold | fields, False), mode == "post" and expired)

    result, refused = await ledger.commit(build, accounts)
    if refused:
        raise DomainError("hold_expired", f"hold {hold_id} passed its timeout and was voided")
    return result


def _settle_legs(ledger: LedgerCore, changes: Changes, hold: Doc, *, mode: str, voiding: bool,
                 post_amount: int | None, actor: str) -> Doc:
    """Move the held coins (posted to the target, the rest back), record each leg; the hold's new fields."""
    source, hold_account, target, now = hold["debit"], hold["credit"], hold["target"], changes.now
    posted, released = (0, hold["amount"]) if voiding else domain.hold_settlement(hold["amount"], post_amount)
    legs = []
    if posted:
        legs.append(("post", target, posted))
    if released:
        legs.append(("void" if voiding else "release", source, released))
    assert changes.balances is not None
    changes.balances.move_all([Move(hold_account, credit, amount) for _, credit, amount in legs])
    for suffix, credit, amount in legs:
        doc = transfer_doc(changes.tenant, f"{hold['transfer_id']}/{suffix}", kind=suffix, debit=hold_account,
                           credit=credit, amount=amount, now=now, by=actor if mode != "expire" else SYSTEM_ACTOR,
                           linked_group=hold.get("linked_group"), hold_id=hold["transfer_id"])
        changes.transfers.append(doc)
        changes.outbox.append(ledger.recorded_row(changes.tenant, doc))
    if voiding:
        return {"state": VOIDED, "voided_at": now, "void_reason": "voided" if mode == "void" else "expired",
                "resolved_by": actor if mode == "void" else SYSTEM_ACTOR}
    return {"state": POSTED, "posted_at": now, "posted_amount": posted, "resolved_by": actor}


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
