"""The erasure clears, by field name (telesales_runtime.erasure), every field the allocator stores sealed and
its blind index: a sealed field it did not know would survive an erasure (no I/O)."""

from __future__ import annotations

from allocator.store.crypt import LEAD_FIELDS, LISTING_FIELDS
from telesales_runtime.erasure import is_personal
from telesales_runtime.pii_store import bidx_field


def test_the_erasure_clears_every_field_the_allocator_seals_and_its_blind_index() -> None:
    for fields in (LEAD_FIELDS, LISTING_FIELDS):
        for name, kind in fields.items():
            assert is_personal(name), name
            assert kind is None or is_personal(bidx_field(name)), bidx_field(name)
