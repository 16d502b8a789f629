"""The only part of the ledger that speaks MongoDB: `mongo` (the collections, reads, and the writes that
compile a unit of work's `Changes` into guarded updates in one transaction), `reads` (what a batch of
purchase requests is decided on, in one round trip) and `documents` (how records are keyed and shaped)."""

from .documents import (
    Doc,
    account_doc_defaults,
    buyer_counter_id,
    counter_expiry,
    counter_update,
    pair_counter_id,
    scoped,
    scoped_doc,
)
from .mongo import AlreadyWritten, Changes, LedgerInvariantError, LedgerStore, Session

__all__ = ["AlreadyWritten", "Changes", "Doc", "LedgerInvariantError", "LedgerStore", "Session", "account_doc_defaults",
           "buyer_counter_id", "counter_expiry", "counter_update", "pair_counter_id", "scoped", "scoped_doc"]
