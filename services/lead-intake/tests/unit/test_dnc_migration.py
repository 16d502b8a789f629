"""The do-not-call topic's migration plan (pure): every key from before that still has a value is tombstoned,
its number's last word republished under the blind index key unless a later change is there, nothing of a
number in what it writes; keys already tombstoned, blind index keys and other tenants are left alone."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from lead_intake.dnc_migration import Record, plan

T0 = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)


def index(tenant: str, phone: str) -> str:
    return hashlib.sha256(f"{tenant}|{phone}".encode()).hexdigest()[:22]


def value(data: dict[str, Any], event_id: str = "e-1") -> bytes:
    return json.dumps({"specversion": "1.0", "id": event_id, "source": "/lead-intake", "tenantid": "t1",
                       "type": "leads.do-not-call.v1", "time": T0.isoformat(), "data": data}).encode()


def old(phone: str, *, listed: bool = True, at: datetime = T0, reason: str | None = "asked") -> dict[str, Any]:
    return {"phone_e164": phone, "listed": listed, "source": "operator", "reason": reason, "changed_at": at.isoformat()}


def records(*items: tuple[str, bytes | None]) -> list[Record]:
    return [Record(key, data, 0, offset) for offset, (key, data) in enumerate(items)]


def test_old_keys_are_republished_by_blind_index_and_tombstoned() -> None:
    a, b = "+8613924681357", "+8618604312468"
    migration = plan(records(
        ("t1/" + a, value(old(a), "e-1")),
        ("t1/" + a, value(old(a, listed=False, at=T0 + timedelta(1), reason=None), "e-2")),  # the last word
        ("t1/" + b, value(old(b, reason="call 186 0431 2468 never"), "e-3")),
    ), index)
    assert migration.tombstones == ["t1/" + a, "t1/" + b]
    republished = {key: json.loads(payload) for key, payload in migration.republish}
    assert set(republished) == {f"t1/{index('t1', a)}", f"t1/{index('t1', b)}"}
    first = republished[f"t1/{index('t1', a)}"]
    assert first["data"] | {"changed_at": None} == {
        "phone_bidx": index("t1", a), "phone_masked": "+86139****1357", "phone_e164": None, "listed": False,
        "source": "operator", "reason": None, "lead_id": None, "changed_at": None}
    assert first["subject"] == index("t1", a) and first["tenantid"] == "t1"
    written = json.dumps([migration.republish[i][1].decode() for i in range(2)])
    # neither number, nor the digits the masked display hides
    assert a[3:] not in written and b[3:] not in written and "0431" not in written and "9246" not in written
    # run again on what it wrote: the old keys are tombstones now, nothing more to do
    again = plan(records(("t1/" + a, value(old(a))), ("t1/" + b, value(old(b))),
                         *[(key, payload) for key, payload in migration.republish],
                         *[(key, None) for key in migration.tombstones]), index)
    assert (again.republish, again.tombstones) == ([], [])
    # the same old event republished twice has one id: consumers take it once
    assert plan(records(("t1/" + b, value(old(b, reason="call 186 0431 2468 never"), "e-3"))), index).republish[0][1] == \
        next(p for k, p in migration.republish if k == f"t1/{index('t1', b)}")


def test_a_later_change_under_the_blind_index_key_is_not_overwritten() -> None:
    a = "+8613924681357"
    newer = value({"phone_bidx": index("t1", a), "phone_masked": "+86139****1357", "listed": False,
                   "source": "operator", "changed_at": (T0 + timedelta(hours=1)).isoformat()})
    migration = plan(records(("t1/" + a, value(old(a))), (f"t1/{index('t1', a)}", newer)), index)
    assert (migration.republish, migration.tombstones, migration.superseded) == ([], ["t1/" + a], 1)


def test_other_tenants_unreadable_values_and_blind_index_keys() -> None:
    a = "+8613924681357"
    only_t1 = plan(records(("t2/" + a, value(old(a))), ("t1/" + a, b"not json")), index, tenants={"t1"})
    assert (only_t1.republish, only_t1.tombstones, only_t1.unreadable) == ([], ["t1/" + a], 1)
    assert plan(records((f"t1/{index('t1', a)}", value(old(a)))), index).tombstones == []
