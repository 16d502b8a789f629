"""Transfers asked for over HTTP (posted at once, or held until posted, voided or timed out): the group
recorded all or none, the hold and its settlement, and the fingerprint that tells a retry from a clash of ids."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from telesales_runtime.errors import DomainError

from .accounts import MAX_AMOUNT, TRANSFERABLE, AccountKind, Balances, Move, escrow, parse_account
from .changes import PENDING, POSTED, VOIDED, HoldResolution, Transfer


def fingerprint(content: Mapping[str, Any]) -> str:
    """A digest of a request's content: the same client id with another digest is a conflict."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class TransferSpec:
    """A transfer asked for over HTTP: posted at once, or held (pending) until posted, voided or timed out."""

    transfer_id: str
    debit: str
    credit: str
    amount: int
    kind: str = "transfer"
    pending: bool = False
    timeout_seconds: int | None = None
    note: str | None = None

    def fingerprint(self, linked_group: str | None) -> str:
        return fingerprint({"op": "transfer", "debit": self.debit, "credit": self.credit, "amount": self.amount,
                            "kind": self.kind, "pending": self.pending, "timeout": self.timeout_seconds,
                            "note": self.note, "linked": linked_group})

    def moves(self) -> tuple[Move, ...]:
        """A pending transfer moves the amount into the debit account's escrow; a posted one straight across."""
        return (Move(self.debit, escrow(self.debit) if self.pending else self.credit, self.amount),)


def check_transfer(spec: TransferSpec, *, issue: bool = False) -> None:
    """A direct transfer touches wallets, earnings, the budget and the bonus pool only (an issue moves
    new coins from the issuance account into the budget)."""
    debit, credit = parse_account(spec.debit), parse_account(spec.credit)
    if issue:
        if (debit.kind, credit.kind) != (AccountKind.ISSUANCE, AccountKind.BUDGET):
            raise DomainError("not_transferable", "coins are issued from issuance into the budget")
    else:
        for ref in (debit, credit):
            if ref.kind not in TRANSFERABLE:
                raise DomainError("not_transferable", f"{ref.key} moves only through its own operation "
                                  "(issue, redemption, hold)")
    if spec.debit == spec.credit:
        raise DomainError("same_account", "a transfer needs two different accounts")
    if not 0 < spec.amount <= MAX_AMOUNT:
        raise DomainError("invalid_amount", f"amounts are whole coins from 1 to {MAX_AMOUNT}")


def hold_settlement(hold_amount: int, post_amount: int | None) -> tuple[int, int]:
    """(amount posted to the hold's target, amount released back to its debit account)."""
    posted = hold_amount if post_amount is None else post_amount
    if not 0 < posted <= hold_amount:
        raise DomainError("invalid_amount", f"post between 1 and the {hold_amount} coins held")
    return posted, hold_amount - posted


class TransferGroup:
    """Transfers asked for together over HTTP (a linked group; a single transfer is a group of one): each
    checked, all recorded or none."""

    def __init__(self, specs: Sequence[TransferSpec], *, linked: bool = False, issue: bool = False) -> None:
        if not specs:
            raise DomainError("no_transfers", "send at least one transfer")
        for spec in specs:
            check_transfer(spec, issue=issue)
        self.ids = [s.transfer_id for s in specs]
        if len(set(self.ids)) != len(self.ids):
            raise DomainError("duplicate_id", "each transfer of a group needs its own id")
        self.specs = list(specs)
        self.group = self.ids[0] if linked else None
        self.prints = {s.transfer_id: s.fingerprint(self.group) for s in specs}
        self.accounts = [k for s in specs for k in (s.debit, s.credit, escrow(s.debit))]

    def recorded_before(self, existing: Mapping[str, Mapping[str, Any]]) -> bool:
        """True when every id was recorded before with the same content (a retry); a conflict when any id
        was used for something else; False when none was used."""
        if not existing:
            return False
        if len(existing) == len(self.ids) and all(existing[t].get("fingerprint") == self.prints[t] for t in self.ids):
            return True
        clash = next(iter(existing))
        raise DomainError("transfer_id_conflict", f"transfer id {clash} was used before with other content",
                          transfer_id=clash)

    def record(self, balances: Balances, *, now: datetime, by: str, hold_timeout_seconds: int) -> list[Transfer]:
        """Move the coins (all or none: `insufficient_funds` otherwise) and the transfers that record it: a
        pending one holds the amount in its debit account's escrow until it is posted, voided or expires."""
        balances.move_all([m for s in self.specs for m in s.moves()])
        transfers = []
        for s in self.specs:
            details: dict[str, Any] = {"note": s.note}
            if s.pending:
                timeout = s.timeout_seconds or hold_timeout_seconds
                details = {"target": s.credit, "expires_at": now + timedelta(seconds=timeout), "note": s.note}
            transfers.append(Transfer(s.transfer_id, s.kind, s.debit, escrow(s.debit) if s.pending else s.credit,
                                      s.amount, now, by, PENDING if s.pending else POSTED, self.group,
                                      fingerprint=self.prints[s.transfer_id], details=details))
        return transfers


HoldMode = Literal["post", "void", "expire"]


@dataclass(frozen=True)
class Hold:
    """A pending transfer made over HTTP: coins held in the debit account's escrow for `target`, until
    posted (all or part; the rest released), voided, or voided at its timeout."""

    hold_id: str
    state: str
    source: str
    escrow: str
    target: str
    amount: int
    expires_at: datetime
    linked_group: str | None = None
    posted_amount: int | None = None
    void_reason: str | None = None

    @classmethod
    def of(cls, hold_id: str, record: Mapping[str, Any] | None) -> Hold:
        if record is None or record.get("kind") == "purchase" or "target" not in record:
            raise DomainError("unknown_hold", f"there is no hold {hold_id!r}")
        return cls(hold_id, record["state"], record["debit"], record["credit"], record["target"], record["amount"],
                   record["expires_at"], record.get("linked_group"), record.get("posted_amount"),
                   record.get("void_reason"))

    def settle(self, *, mode: HoldMode, post_amount: int | None, now: datetime) -> Settlement | None:
        """What posting, voiding or expiring (voiding only if past its timeout) does to this hold; None when
        nothing changes (a retry of what happened, or not due yet). A hold found past its timeout is voided
        whatever the mode, and a post of it is then refused (`Settlement.refused`)."""
        if self.state == POSTED:
            if mode == "expire" or (mode == "post" and post_amount in (None, self.posted_amount)):
                return None
            raise DomainError("hold_posted", f"hold {self.hold_id} was posted already")
        if self.state == VOIDED:
            if mode != "post":
                return None
            code = "hold_expired" if self.void_reason == "expired" else "hold_voided"
            raise DomainError(code, f"hold {self.hold_id} was voided ({self.void_reason})")
        expired = self.expires_at <= now
        if mode == "expire" and not expired:
            return None
        voiding = mode != "post" or expired
        posted, released = (0, self.amount) if voiding else hold_settlement(self.amount, post_amount)
        return Settlement(self, mode, posted, released, voiding, now, refused=mode == "post" and expired)


@dataclass(frozen=True)
class Settlement:
    hold: Hold
    mode: HoldMode
    posted: int
    released: int
    voiding: bool
    now: datetime
    refused: bool  # a post found the hold past its timeout: voided, and the post answered `hold_expired`

    def apply(self, balances: Balances, *, actor: str, system: str) -> tuple[list[Transfer], HoldResolution]:
        """Move the held coins out of escrow (posted to the target, the rest back to the source): the
        transfers of each leg, and the hold's new state."""
        legs = self.legs(actor=actor, system=system)
        balances.move_all([Move(t.debit, t.credit, t.amount) for t in legs])
        return legs, self.resolution(actor=actor, system=system)

    def legs(self, *, actor: str, system: str) -> list[Transfer]:
        """The transfers out of escrow: posted to the target, the rest back to the source."""
        h, by = self.hold, actor if self.mode != "expire" else system
        legs = []
        if self.posted:
            legs.append(("post", h.target, self.posted))
        if self.released:
            legs.append(("void" if self.voiding else "release", h.source, self.released))
        return [Transfer(f"{h.hold_id}/{suffix}", suffix, h.escrow, credit, amount, self.now, by,
                         linked_group=h.linked_group, hold_id=h.hold_id) for suffix, credit, amount in legs]

    def resolution(self, *, actor: str, system: str) -> HoldResolution:
        if self.voiding:
            return HoldResolution(self.hold.hold_id, {
                "state": VOIDED, "voided_at": self.now, "void_reason": "voided" if self.mode == "void" else "expired",
                "resolved_by": actor if self.mode == "void" else system})
        return HoldResolution(self.hold.hold_id, {"state": POSTED, "posted_at": self.now,
                                                  "posted_amount": self.posted, "resolved_by": actor})
