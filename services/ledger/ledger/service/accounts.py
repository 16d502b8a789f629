"""Account settings, the tenant's policy, and the audit of its books."""

from __future__ import annotations

from datetime import UTC, datetime

from .. import domain
from ..domain import DomainError
from ..store import Doc
from .core import LedgerCore, utcnow


async def set_allow_negative(*, ledger: LedgerCore, tenant: str, key: str, allow: bool) -> Doc:
    ref = domain.parse_account(key)
    if ref.kind not in domain.CONFIGURABLE:
        raise DomainError("not_configurable", f"{key} keeps its own rule")
    return await ledger.store.set_account_flags(tenant, key, {"allow_negative": allow}, utcnow())


async def audit(*, ledger: LedgerCore, tenant: str, verify: bool) -> Doc:
    """Conservation (the balances sum to zero), no balance below zero where not allowed, and with
    `verify` every balance recomputed from the transfers alone."""
    summary = await ledger.store.audit(tenant)
    report: Doc = {"accounts": summary["accounts"], "sum_of_balances": summary["sum"],
                   "conserved": summary["sum"] == 0, "negative_accounts": summary["negative"],
                   "journal_checked": verify, "journal_mismatches": []}
    if verify:
        journal = await ledger.store.journal_balances(tenant)
        stored = await ledger.store.stored_balances(tenant)
        report["journal_mismatches"] = [
            {"account": key, "stored": stored.get(key, 0), "journal": journal.get(key, 0)}
            for key in sorted(set(journal) | set(stored)) if stored.get(key, 0) != journal.get(key, 0)]
    report["ok"] = report["conserved"] and not report["negative_accounts"] and not report["journal_mismatches"]
    return report


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


async def replace_policy(*, ledger: LedgerCore, tenant: str, value: Doc, expected_version: int | None) -> int | None:
    """Store the tenant's policy (with `expected_version`, only if nobody changed it since: else None)."""
    version = await ledger.store.put_config(tenant, "policy", value, expected_version, datetime.now(UTC))
    if version is not None:
        ledger.forget_policy(tenant)
    return version
