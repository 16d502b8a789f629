"""Stored records as the API's views, and the statement's keyset cursor."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from telesales_runtime.http import Problem

from .. import domain
from ..schemas import (
    AccountView,
    AllocationView,
    BlindBoxView,
    ReallocationRequestView,
    RedemptionView,
    TransferView,
)
from ..store import Doc


def transfer_view(doc: Doc) -> TransferView:
    return TransferView(transfer_id=doc["transfer_id"], kind=doc["kind"], state=doc["state"], debit=doc.get("debit"),
                        credit=doc.get("credit"), amount=doc["amount"], target=doc.get("target"),
                        expires_at=doc.get("expires_at"), posted_amount=doc.get("posted_amount"),
                        void_reason=doc.get("void_reason"), linked_group=doc.get("linked_group"),
                        hold_id=doc.get("hold_id"), created_at=doc["created_at"], posted_at=doc.get("posted_at"),
                        voided_at=doc.get("voided_at"), by=doc.get("by"), note=doc.get("note"),
                        purchase=doc.get("purchase"), redemption=doc.get("redemption"))


def account_view(key: str, doc: Doc | None) -> AccountView:
    ref = domain.parse_account(key)
    doc = doc or {}
    return AccountView(account=key, kind=ref.kind.value, owner=ref.owner, balance=int(doc.get("balance", 0)),
                       allow_negative=bool(doc.get("allow_negative", domain.allows_negative_by_default(key))),
                       allocation_blocked=bool(doc.get("allocation_blocked")),
                       last_activity_at=doc.get("last_activity_at"), reclaimed_at=doc.get("reclaimed_at"),
                       exists=bool(doc))


def allocation_view(doc: Doc, only: frozenset[str] | None = None) -> AllocationView:
    """An allocation; with `only`, the lines of those users (and their total)."""
    allocated = [a for a in doc["allocated"] if only is None or a["user_id"] in only]
    skipped = [s for s in doc["skipped"] if only is None or s["user_id"] in only]
    total = doc["total"] if only is None else doc["amount"] * len(allocated)
    return AllocationView(allocation_id=doc["op_id"], amount=doc["amount"], selection=doc["selection"],
                          filter=doc.get("filter"), allocated=allocated, skipped=skipped,
                          total=total, by=doc["by"], note=doc.get("note"), created_at=doc["created_at"])


def blind_box_view(doc: Doc) -> BlindBoxView:
    return BlindBoxView(draw_id=doc["op_id"], seed=doc["seed"], algorithm=doc["algorithm"],
                        recipients=doc["recipients"], min_amount=doc["min_amount"], max_amount=doc["max_amount"],
                        awards=doc["awards"], total=doc["total"], by=doc["by"], created_at=doc["created_at"])


def request_view(doc: Doc) -> ReallocationRequestView:
    return ReallocationRequestView.model_validate({k: v for k, v in doc.items() if k not in ("_id", "tenant_id")})


def redemption_view(doc: Doc) -> RedemptionView:
    r = doc["redemption"]
    return RedemptionView(transfer_id=doc["transfer_id"], user_id=r["user_id"], coins=r["coins"],
                          yuan_fen=r["yuan_fen"], item=r.get("item"), by=doc["by"], created_at=doc["created_at"])


def encode_cursor(doc: Doc) -> str:
    raw = json.dumps([doc["created_at"].isoformat(), doc["_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), str(last_id)
    except (ValueError, TypeError) as error:
        raise Problem(400, "Bad cursor", "Use the next_cursor of the previous page.") from error


def statement_line(doc: Doc, account: str) -> Doc:
    """One transfer as a line of an account's statement: debits negative, credits positive."""
    outgoing = doc["debit"] == account
    amount = int(doc["amount"])
    reference = None
    if "purchase" in doc:
        reference = doc["purchase"].get("tip_id")
    elif "redemption" in doc:
        reference = doc["redemption"].get("item")
    return {"at": doc["created_at"], "transfer_id": doc["transfer_id"], "kind": doc["kind"], "state": doc["state"],
            "direction": "debit" if outgoing else "credit", "amount": amount,
            "signed_amount": -amount if outgoing else amount,
            "counterparty": doc["credit"] if outgoing else doc["debit"], "linked_group": doc.get("linked_group"),
            "hold_id": doc.get("hold_id"), "reference": reference, "note": doc.get("note"), "by": doc.get("by")}
