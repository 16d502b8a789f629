"""A seller's earnings redeemed in the points mall (兑换), and blind-box bonuses (盲盒) from the bonus pool
(`Redemption`, `BlindBoxDraw`)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from .. import domain
from ..domain import BlindBoxDraw, Changes, DomainError, Redemption, earnings
from ..store import Doc, Session
from .core import LedgerCore, Result, replay, utcnow


async def redeem(*, ledger: LedgerCore, tenant: str, redemption_id: str, user_id: str, actor: str,
                 coins: int | None = None, yuan: int | None = None, item: str | None = None) -> Result:
    """A seller's earnings to the redemption sink, in whole yuan (100 coins = 1 yuan)."""
    redemption = Redemption.of(redemption_id, user_id, coins=coins, yuan=yuan, item=item)
    now = utcnow()

    async def build(session: Session) -> tuple[Changes, Result]:
        existing = await ledger.store.transfer(tenant, redemption_id, session)
        if redemption.recorded_before(existing):
            assert existing is not None
            return Changes(tenant, now), Result(existing, True)
        changes = Changes(tenant, now, await ledger.store.balances(tenant, redemption.accounts(), session))
        assert changes.balances is not None
        transfer, event = redemption.redeem(changes.balances, now=now, by=actor)
        changes.transfers.append(transfer)
        changes.events.append(event)
        return changes, Result(transfer.record(), False)

    return await ledger.commit_once(build, redemption.accounts())


async def _draw_recipients(ledger: LedgerCore, tenant: str, user_ids: Sequence[str] | None, top: int | None,
                           since: datetime | None, until: datetime | None
                           ) -> tuple[list[str], datetime | None, datetime | None]:
    """The users named, or the `top` sellers by coins earned in [since, until) (the last 30 days by default);
    with the window as used."""
    if user_ids is not None:
        recipients = list(user_ids)
        for user in recipients:
            domain.parse_account(earnings(user))
    else:
        assert top is not None
        until = until or utcnow()
        since = since or until - timedelta(days=30)
        recipients = domain.rank_contributors(await ledger.store.earned_by_sellers(tenant, since, until), top)
    if not recipients:
        raise DomainError("no_recipients", "nobody to reward")
    if len(recipients) > ledger.settings.blind_box_max_recipients:
        raise DomainError("too_many_recipients", f"at most {ledger.settings.blind_box_max_recipients} per draw")
    return recipients, since, until


async def blind_box(*, ledger: LedgerCore, tenant: str, draw_id: str, actor: str, min_amount: int, max_amount: int,
                    user_ids: Sequence[str] | None = None, top: int | None = None, since: datetime | None = None,
                    until: datetime | None = None, seed: str | None = None) -> Result:
    """Random bonuses from the bonus pool to the users named, or to the `top` sellers by coins earned
    in [since, until), all or none. The seed is recorded (drawn when not given)."""
    if (user_ids is None) == (top is None):
        raise DomainError("invalid_draw", "name the users, or ask for the top sellers")
    print_ = domain.fingerprint({"op": "blind_box", "users": list(user_ids or []), "top": top, "since": since,
                                "until": until, "min": min_amount, "max": max_amount, "seed": seed})
    existing = await ledger.store.operation(tenant, draw_id)
    if existing is not None:
        return replay(existing, print_, draw_id)
    recipients, since, until = await _draw_recipients(ledger, tenant, user_ids, top, since, until)
    draw = BlindBoxDraw.of(draw_id, seed or secrets.token_hex(16), recipients, min_amount=min_amount,
                           max_amount=max_amount, fingerprint=print_,
                           selection={"user_ids": list(user_ids or []) or None, "top": top, "since": since,
                                      "until": until})
    now = utcnow()

    async def build(session: Session) -> tuple[Changes, Result]:
        op = await ledger.store.operation(tenant, draw_id, session)
        if op is not None:
            return Changes(tenant, now), replay(op, print_, draw_id)
        changes = Changes(tenant, now, await ledger.store.balances(tenant, [domain.BONUS_POOL], session))
        assert changes.balances is not None
        operation, changes.transfers, event = draw.award(changes.balances, now=now, by=actor)
        changes.operations.append(operation)
        changes.events.append(event)
        return changes, Result(operation.record(), False)

    return await ledger.commit_once(build, draw.accounts())


def replay_draw(op: Doc) -> list[dict[str, Any]]:
    """The draw recomputed from its recorded seed and recipients."""
    return domain.replay_draw(op)
