"""The service layer of the ledger: one module per job, each operation a keyword-only function taking the
shared `LedgerCore` as `ledger`. `LedgerService` gathers them for the edges (HTTP routes, consumers,
the sweeper), each method a one-line call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from telesales_runtime.consumer import Delivery

from ..domain import PurchaseDecision, TransferSpec
from ..store import Doc
from . import accounts, allocations, learning, purchases, reclaims, rewards, roster, transfers
from .allocations import RosterSelection
from .core import SYSTEM_ACTOR, LedgerCore, Result, utcnow

__all__ = ["SYSTEM_ACTOR", "LedgerCore", "LedgerService", "Result", "RosterSelection", "utcnow"]


class LedgerService(LedgerCore):
    """The ledger's operations, by the module that holds each."""

    # ---- direct transfers and holds (transfers.py) ---------------------------------------------------

    async def transfer(self, *, tenant: str, specs: Sequence[TransferSpec], actor: str, linked: bool = False,
                       issue: bool = False) -> tuple[list[Doc], bool]:
        return await transfers.transfer(ledger=self, tenant=tenant, specs=specs, actor=actor, linked=linked,
                                        issue=issue)

    async def issue(self, *, tenant: str, transfer_id: str, amount: int, actor: str,
                    note: str | None) -> tuple[Doc, bool]:
        return await transfers.issue(ledger=self, tenant=tenant, transfer_id=transfer_id, amount=amount, actor=actor,
                                     note=note)

    async def post_hold(self, *, tenant: str, hold_id: str, amount: int | None, actor: str) -> Result:
        """Post a hold: `amount` (all of it when None) to its target, the rest back to its debit account."""
        return await transfers.settle(ledger=self, tenant=tenant, hold_id=hold_id, mode="post", post_amount=amount,
                                      actor=actor)

    async def void_hold(self, *, tenant: str, hold_id: str, actor: str) -> Result:
        """Void a hold: everything held goes back to its debit account."""
        return await transfers.settle(ledger=self, tenant=tenant, hold_id=hold_id, mode="void", post_amount=None,
                                      actor=actor)

    async def expire_holds(self, *, now: datetime | None = None) -> int:
        return await transfers.expire_holds(ledger=self, now=now)

    # ---- purchases (purchases.py), the roster (roster.py), learning (learning.py): consumers ------------------------------

    async def handle_transfer_requests(self, *, deliveries: Sequence[Delivery]) -> None:
        await purchases.handle_transfer_requests(ledger=self, deliveries=deliveries)

    async def purchase_batch(self, *, tenant: str, deliveries: Sequence[Delivery]) -> list[PurchaseDecision]:
        return await purchases.purchase_batch(ledger=self, tenant=tenant, deliveries=deliveries)

    async def handle_agents_changed(self, *, deliveries: Sequence[Delivery]) -> None:
        await roster.handle_agents_changed(ledger=self, deliveries=deliveries)

    async def handle_agents_graded(self, *, deliveries: Sequence[Delivery]) -> None:
        await roster.handle_agents_graded(ledger=self, deliveries=deliveries)

    async def handle_learn_progressed(self, *, deliveries: Sequence[Delivery]) -> None:
        await learning.handle_learn_progressed(ledger=self, deliveries=deliveries)

    # ---- allocations (allocations.py), reclaims and reallocation (reclaims.py) -----------------------

    async def allocate(self, *, tenant: str, allocation_id: str, amount: int, actor: str,
                       user_ids: Sequence[str] | None = None, selection: RosterSelection | None = None,
                       note: str | None = None) -> Result:
        return await allocations.allocate(ledger=self, tenant=tenant, allocation_id=allocation_id, amount=amount,
                                          actor=actor, user_ids=user_ids, selection=selection, note=note)

    async def reclaim_idle(self, *, tenant: str, now: datetime | None = None) -> list[Doc]:
        return await reclaims.reclaim_idle(ledger=self, tenant=tenant, now=now)

    async def reclaim_all(self, *, now: datetime | None = None) -> int:
        return await reclaims.reclaim_all(ledger=self, now=now)

    async def request_reallocation(self, *, tenant: str, user_id: str, reason: str, actor: str) -> Doc:
        return await reclaims.request_reallocation(ledger=self, tenant=tenant, user_id=user_id, reason=reason,
                                                   actor=actor)

    async def decide_reallocation(self, *, tenant: str, request_id: str, approve: bool, actor: str,
                                  operator: bool, amount: int | None = None, reason: str | None = None) -> Result:
        return await reclaims.decide_reallocation(ledger=self, tenant=tenant, request_id=request_id, approve=approve,
                                                  actor=actor, operator=operator, amount=amount, reason=reason)

    # ---- redemption and blind boxes (rewards.py) -----------------------------------------------------

    async def redeem(self, *, tenant: str, redemption_id: str, user_id: str, actor: str, coins: int | None = None,
                     yuan: int | None = None, item: str | None = None) -> Result:
        return await rewards.redeem(ledger=self, tenant=tenant, redemption_id=redemption_id, user_id=user_id,
                                    actor=actor, coins=coins, yuan=yuan, item=item)

    async def blind_box(self, *, tenant: str, draw_id: str, actor: str, min_amount: int, max_amount: int,
                        user_ids: Sequence[str] | None = None, top: int | None = None,
                        since: datetime | None = None, until: datetime | None = None,
                        seed: str | None = None) -> Result:
        return await rewards.blind_box(ledger=self, tenant=tenant, draw_id=draw_id, actor=actor,
                                       min_amount=min_amount, max_amount=max_amount, user_ids=user_ids, top=top,
                                       since=since, until=until, seed=seed)

    @staticmethod
    def replay_draw(op: Doc) -> list[dict[str, Any]]:
        return rewards.replay_draw(op)

    # ---- accounts and audit (accounts.py) ------------------------------------------------------------

    async def set_allow_negative(self, *, tenant: str, key: str, allow: bool) -> Doc:
        return await accounts.set_allow_negative(ledger=self, tenant=tenant, key=key, allow=allow)

    async def replace_policy(self, *, tenant: str, value: Doc, expected_version: int | None) -> int | None:
        return await accounts.replace_policy(ledger=self, tenant=tenant, value=value, expected_version=expected_version)

    async def audit(self, *, tenant: str, verify: bool) -> Doc:
        return await accounts.audit(ledger=self, tenant=tenant, verify=verify)
