"""Account settings, the tenant's policy, and the audit of its books."""

from __future__ import annotations

from datetime import UTC, datetime

from .. import domain
from ..store import Doc
from .core import LedgerCore, utcnow


async def set_allow_negative(*, ledger: LedgerCore, tenant: str, key: str, allow: bool) -> Doc:
    domain.check_configurable(key)
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


async def replace_policy(*, ledger: LedgerCore, tenant: str, value: Doc, expected_version: int | None) -> int | None:
    """Store the tenant's policy (with `expected_version`, only if nobody changed it since: else None)."""
    version = await ledger.store.put_config(tenant, "policy", value, expected_version, datetime.now(UTC))
    if version is not None:
        ledger.forget_policy(tenant)
    return version
