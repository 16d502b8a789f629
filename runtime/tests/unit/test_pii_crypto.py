"""Encryption at rest, tried the way an attacker with the database (not the keys) would: altered ciphertexts,
ciphertexts moved to another tenant or field, unknown key ids, and a rotation in the middle of it all."""

from __future__ import annotations

import base64
import json
import os

import pytest

from telesales_runtime.pii_crypto import Keyring, PiiKeyError, key_id_of, load_keyring, new_keyring_json
from telesales_runtime.pii_store import PiiFields

PHONE = "+8613924681357"


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def ring(active: str = "a", keys: dict[str, str] | None = None, index_key: str | None = None,
         tenants: dict[str, object] | None = None) -> Keyring:
    raw = {"active": active, "keys": keys or {"a": key()}, "index_key": index_key or key(), "tenants": tenants or {}}
    return Keyring.from_json(json.dumps(raw))


def test_a_value_round_trips_and_the_ciphertext_shows_nothing_of_it() -> None:
    keyring = ring()
    sealed = keyring.seal("t1", "phone_e164", PHONE)
    assert sealed.startswith("pii1.a.") and "139" not in sealed and "1357" not in sealed
    assert keyring.open("t1", "phone_e164", sealed) == PHONE
    assert keyring.seal("t1", "phone_e164", PHONE) != sealed  # a fresh nonce each time: equal values unlinkable
    assert keyring.open("t1", "extra", keyring.seal("t1", "extra", {"wechat": "zs-1990", "n": 2})) == \
        {"wechat": "zs-1990", "n": 2}


@pytest.mark.parametrize("position", [8, 20, -1])
def test_any_altered_byte_fails_authentication(position: int) -> None:
    keyring = ring()
    sealed = keyring.seal("t1", "name", "张三")
    body = bytearray(base64.urlsafe_b64decode(sealed.split(".", 2)[2] + "=="))
    body[position] ^= 1
    altered = "pii1.a." + base64.urlsafe_b64encode(bytes(body)).rstrip(b"=").decode()
    with pytest.raises(PiiKeyError, match="authentication"):
        keyring.open("t1", "name", altered)
    with pytest.raises(PiiKeyError):
        keyring.open("t1", "name", sealed[:20])  # cut short


def test_a_ciphertext_moved_to_another_tenant_or_field_does_not_decrypt() -> None:
    keyring = ring()
    sealed = keyring.seal("t1", "phone_e164", PHONE)
    with pytest.raises(PiiKeyError):
        keyring.open("t2", "phone_e164", sealed)
    with pytest.raises(PiiKeyError):
        keyring.open("t1", "email", sealed)


def test_a_key_id_swapped_in_the_prefix_or_unknown_is_refused() -> None:
    a, b = key(), key()
    keyring = ring("a", {"a": a, "b": b})
    sealed = keyring.seal("t1", "name", "李四")
    with pytest.raises(PiiKeyError):  # the key id is bound in the associated data
        keyring.open("t1", "name", sealed.replace("pii1.a.", "pii1.b.", 1))
    with pytest.raises(PiiKeyError, match="unknown pii key id"):
        keyring.open("t1", "name", sealed.replace("pii1.a.", "pii1.zz.", 1))
    assert key_id_of(sealed) == "a" and key_id_of(PHONE) is None and key_id_of(None) is None


def test_rotation_new_writes_use_the_active_key_and_old_values_still_open() -> None:
    a, b, index = key(), key(), key()
    before = ring("a", {"a": a}, index)
    old = before.seal("t1", "phone_e164", PHONE)
    after = ring("b", {"a": a, "b": b}, index)
    assert after.open("t1", "phone_e164", old) == PHONE
    assert key_id_of(after.seal("t1", "phone_e164", PHONE)) == "b"
    assert after.blind_index("t1", "phone", PHONE) == before.blind_index("t1", "phone", PHONE)  # look-ups hold
    with pytest.raises(PiiKeyError):  # once "a" is removed, what it sealed is gone for good
        ring("b", {"b": b}, index).open("t1", "phone_e164", old)


def test_tenants_have_keys_of_their_own_and_one_may_bring_its_own() -> None:
    own = key()
    keyring = ring(tenants={"acme": {"active": "acme-1", "keys": {"acme-1": own}}})
    sealed = keyring.seal("acme", "name", "王五")
    assert key_id_of(sealed) == "acme-1" and keyring.open("acme", "name", sealed) == "王五"
    with pytest.raises(PiiKeyError):  # a master-derived key id means nothing for a tenant with its own keys
        keyring.open("acme", "name", keyring.seal("other", "name", "王五"))
    with pytest.raises(PiiKeyError, match="reuses master key ids"):
        ring(tenants={"acme": {"active": "a", "keys": {"a": own}}})


def test_the_blind_index_is_per_tenant_per_kind_and_normalized() -> None:
    keyring = ring()
    assert keyring.blind_index("t1", "email", " Zhang@Example.COM ") == keyring.blind_index("t1", "email", "zhang@example.com")
    assert keyring.blind_index("t1", "name", "Zhang  San") == keyring.blind_index("t1", "name", "zhang san")
    assert keyring.blind_index("t1", "phone", PHONE) != keyring.blind_index("t2", "phone", PHONE)
    assert keyring.blind_index("t1", "phone", PHONE) != keyring.blind_index("t1", "email", PHONE)
    assert keyring.blind_index("t1", "phone", PHONE) != ring().blind_index("t1", "phone", PHONE)  # keyed
    assert len(keyring.blind_index("t1", "phone", PHONE)) == 22  # 128 bits


@pytest.mark.parametrize("broken", [
    "not json", "[]", json.dumps({"active": "a", "keys": {}, "index_key": key()}),
    json.dumps({"active": "x", "keys": {"a": key()}, "index_key": key()}),
    json.dumps({"active": "a", "keys": {"a": base64.b64encode(b"short").decode()}, "index_key": key()}),
    json.dumps({"active": "a.b", "keys": {"a.b": key()}, "index_key": key()}),
    json.dumps({"active": "a", "keys": {"a": key()}}),
])
def test_a_malformed_keyring_is_refused_with_a_reason(broken: str) -> None:
    with pytest.raises(PiiKeyError, match="pii keyring"):
        Keyring.from_json(broken)


def test_no_keyring_at_all_is_a_clear_start_up_error(tmp_path: object) -> None:
    with pytest.raises(PiiKeyError, match="TELESALES_PII_KEYRING_FILE"):
        load_keyring(inline=None, path=None)
    assert load_keyring(inline=new_keyring_json("k9"), path=None).masters.active == "k9"


def test_documents_seal_with_indexes_and_open_legacy_plain_values_as_they_are() -> None:
    fields = PiiFields(ring(), {"phone_e164": "phone", "name": "name", "notes": None})
    sealed = fields.seal({"_id": "L1", "tenant_id": "t1", "phone_e164": PHONE, "name": "张三", "notes": None,
                          "score": 7})
    assert sealed["pii_kid"] == ["a"] and sealed["score"] == 7 and sealed["notes"] is None
    assert sealed["phone_e164_bidx"] == fields.index("t1", "phone_e164", PHONE) and "notes_bidx" not in sealed
    assert PHONE not in json.dumps(sealed, ensure_ascii=False) and "张三" not in json.dumps(sealed, ensure_ascii=False)
    assert fields.open(dict(sealed)) == {**sealed, "phone_e164": PHONE, "name": "张三"}
    legacy = {"_id": "L0", "tenant_id": "t1", "phone_e164": PHONE, "name": "李四"}
    assert fields.open(dict(legacy)) == legacy
    with pytest.raises(ValueError, match="did not project tenant_id"):
        fields.open({"phone_e164": sealed["phone_e164"]})
    with pytest.raises(ValueError, match="plain values only"):
        fields.seal(sealed)


def test_the_keyring_tool_rotates_and_removes_keys() -> None:
    from telesales_runtime.pii_keys import remove, rotate

    first = json.loads(new_keyring_json("k1"))
    second = rotate(first, "k2")
    assert second["active"] == "k2" and set(second["keys"]) == {"k1", "k2"}
    assert second["index_key"] == first["index_key"] and second["keys"]["k1"] == first["keys"]["k1"]
    with pytest.raises(SystemExit):
        remove(second, "k2")  # the active key stays
    with pytest.raises(SystemExit):
        rotate(second, "k1")  # a key id is never reused
    assert set(remove(second, "k1")["keys"]) == {"k2"}
