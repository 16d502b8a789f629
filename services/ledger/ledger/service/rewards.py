"""A seller's earnings redeemed in the points mall (兑换), and blind-box bonuses (盲盒) from the bonus pool."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from telesales_contracts.ledger import BonusAward, BonusAwarded, CoinsRedeemed
from telesales_contracts.topics import LEDGER_BONUS_AWARDED, LEDGER_COINS_REDEEMED

from .. import domain
from ..domain import BONUS_POOL, REDEEMED, DomainError, Move, earnings
from ..store import Changes, Doc, Session, scoped
from .core import LedgerCore, Result, move_all_or_explain, replay, transfer_doc, utcnow


async def redeem(*, ledger: LedgerCore, tenant: str, redemption_id: str, user_id: str, actor: str,
                 coins: int | None = None, yuan: int | None = None, item: str | None = None) -> Result:
    """A seller's earnings to the redemption sink, in whole yuan (100 coins = 1 yuan)."""
    coins, fen = domain.redemption(coins=coins, yuan=yuan)
    domain.parse_account(earnings(user_id))
    print_ = domain.fingerprint({"op": "redemption", "user": user_id, "coins": coins, "item": item})
    now = utcnow()
    source = earnings(user_id)

    async def build(session: Session) -> tuple[Changes, Result]:
        existing = await ledger.store.transfer(tenant, redemption_id, session)
        if existing is not None:
            if existing.get("fingerprint") != print_:
                raise DomainError("transfer_id_conflict", f"transfer id {redemption_id} was used before "
                                  "with other content", transfer_id=redemption_id)
            return Changes(tenant, now), Result(existing, True)
        balances = await ledger.store.balances(tenant, [source, REDEEMED], session)
        balances.move(source, REDEEMED, coins)
        doc = transfer_doc(tenant, redemption_id, kind="redemption", debit=source, credit=REDEEMED,
                           amount=coins, now=now, by=actor, fingerprint=print_,
                           redemption={"user_id": user_id, "coins": coins, "yuan_fen": fen, "item": item})
        changes = Changes(tenant, now, balances, transfers=[doc])
        changes.outbox.append(ledger.row(LEDGER_COINS_REDEEMED, CoinsRedeemed(
            transfer_id=redemption_id, user_id=user_id, coins=coins, yuan_fen=fen, item=item, redeemed_by=actor,
            redeemed_at=now), tenant, user_id))
        return changes, Result(doc, False)

    return await ledger.commit_once(build, [source, REDEEMED])


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
    drawn_seed = seed or secrets.token_hex(16)
    amounts = domain.draw_amounts(drawn_seed, recipients, min_amount, max_amount)
    now = utcnow()
    selection = {"user_ids": list(user_ids or []) or None, "top": top, "since": since, "until": until}

    async def build(session: Session) -> tuple[Changes, Result]:
        op = await ledger.store.operation(tenant, draw_id, session)
        if op is not None:
            return Changes(tenant, now), replay(op, print_, draw_id)
        balances = await ledger.store.balances(tenant, [BONUS_POOL], session)
        move_all_or_explain(balances, [Move(BONUS_POOL, earnings(u), a) for u, a in zip(recipients, amounts, strict=True)],
                            lambda: f"the bonus pool holds {balances.balance(BONUS_POOL)} coins; "
                                    f"the draw needs {sum(amounts)}")
        changes = Changes(tenant, now, balances)
        awards = []
        for user, amount in zip(recipients, amounts, strict=True):
            doc = transfer_doc(tenant, f"{draw_id}/{user}", kind="bonus", debit=BONUS_POOL, credit=earnings(user),
                               amount=amount, now=now, by=actor, linked_group=draw_id)
            changes.transfers.append(doc)
            awards.append({"user_id": user, "amount": amount, "transfer_id": doc["transfer_id"]})
        op_doc = {"_id": scoped(tenant, draw_id), "tenant_id": tenant, "op_id": draw_id, "kind": "blind_box",
                  "fingerprint": print_, "seed": drawn_seed, "algorithm": domain.DRAW_ALGORITHM,
                  "recipients": recipients, "min_amount": min_amount, "max_amount": max_amount,
                  "awards": awards, "total": sum(amounts), "selection": selection, "by": actor, "created_at": now}
        changes.operations.append(op_doc)
        changes.outbox.append(ledger.row(LEDGER_BONUS_AWARDED, BonusAwarded(
            draw_id=draw_id, seed=drawn_seed, algorithm=domain.DRAW_ALGORITHM, min_amount=min_amount,
            max_amount=max_amount, awards=[BonusAward(**a) for a in awards], total=sum(amounts), drawn_by=actor,
            drawn_at=now), tenant, draw_id))
        return changes, Result(op_doc, False)

    return await ledger.commit_once(build, [BONUS_POOL, *(earnings(u) for u in recipients)])


def replay_draw(op: Doc) -> list[dict[str, Any]]:
    """The draw recomputed from its recorded seed and recipients."""
    amounts = domain.draw_amounts(op["seed"], op["recipients"], op["min_amount"], op["max_amount"])
    return [{"user_id": u, "amount": a} for u, a in zip(op["recipients"], amounts, strict=True)]
