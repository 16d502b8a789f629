"""Encryption at rest of personal data (phone numbers, names, emails): the keyring, authenticated encryption of
one value, and the keyed blind index that finds a value by equality without storing it.

Keyring (a JSON document from a Secret, see `load_keyring`):

    {"active": "k2", "keys": {"k1": "<base64 of 32 bytes>", "k2": "..."},
     "index_key": "<base64 of 32 bytes>",
     "tenants": {"acme": {"active": "acme-1", "keys": {"acme-1": "..."}}}}

A tenant's data key is derived with HKDF-SHA256 from the master key of that id and the tenant's name, so every
tenant has keys of its own without a Secret entry each; a tenant listed under `tenants` (one that brings its
own key) uses only its own keys. Each id names one key; `active` is the one new writes use, the others still
decrypt what they wrote (rotation: add a key, make it active, re-encrypt, then remove the old one).

A sealed value is `pii1.<key id>.<base64url(nonce | AES-256-GCM ciphertext and tag)>`; the associated data
binds it to its tenant, its field and its key id, so a value copied to another tenant or another field does not
decrypt. The blind index is HMAC-SHA256 under a per-tenant key derived from `index_key` (never rotated with the
data keys) of the field's kind and the normalized value, truncated to 128 bits: equal values give equal
indexes, and nothing else can be learnt from it without the key."""

from __future__ import annotations

import base64
import hmac
import json
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "pii1"
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_NONCE = 12
_INDEX_BYTES = 16
_TEXT, _JSON = b"s", b"j"  # what the plaintext was: a string, or a JSON value


class PiiKeyError(Exception):
    """The keyring is missing or malformed, or a value cannot be decrypted (tampered, wrong tenant or field,
    unknown key id)."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _key_bytes(where: str, text: Any) -> bytes:
    if not isinstance(text, str):
        raise PiiKeyError(f"pii keyring: {where} must be a base64 string of 32 bytes")
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
    except ValueError as error:
        raise PiiKeyError(f"pii keyring: {where} is not base64") from error
    if len(raw) != 32:
        raise PiiKeyError(f"pii keyring: {where} must be 32 bytes (AES-256), it is {len(raw)}")
    return raw


def _derive(master: bytes, purpose: str, tenant: str) -> bytes:
    info = f"telesales {purpose}\x00{tenant}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


@dataclass(frozen=True)
class KeySet:
    """Key ids and their keys, with the one new writes use."""

    active: str
    keys: Mapping[str, bytes]

    @classmethod
    def parse(cls, where: str, raw: Any) -> KeySet:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("keys"), Mapping) or not raw["keys"]:
            raise PiiKeyError(f"pii keyring: {where} needs `keys`: {{key id: base64 key}}")
        keys = {}
        for kid, text in raw["keys"].items():
            if not KEY_ID.match(kid):
                raise PiiKeyError(f"pii keyring: {where} key id {kid!r} must match {KEY_ID.pattern}")
            keys[kid] = _key_bytes(f"{where} key {kid}", text)
        active = raw.get("active")
        if active not in keys:
            raise PiiKeyError(f"pii keyring: {where} `active` ({active!r}) must be one of its keys {sorted(keys)}")
        return cls(active, keys)


@dataclass(frozen=True)
class Keyring:
    masters: KeySet
    index_key: bytes
    tenants: Mapping[str, KeySet] = field(default_factory=dict)
    _cache: dict[tuple[str, str], AESGCM] = field(default_factory=dict, compare=False, repr=False)
    _index_cache: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            raw = json.loads(text)
        except ValueError as error:
            raise PiiKeyError("pii keyring: not valid JSON") from error
        if not isinstance(raw, Mapping):
            raise PiiKeyError("pii keyring: a JSON object is expected")
        masters = KeySet.parse("the master keys", raw)
        tenants = {t: KeySet.parse(f"tenant {t!r}", entry) for t, entry in (raw.get("tenants") or {}).items()}
        for tenant, keys in tenants.items():
            if clash := set(keys.keys) & set(masters.keys):
                raise PiiKeyError(f"pii keyring: tenant {tenant!r} reuses master key ids {sorted(clash)}")
        return cls(masters, _key_bytes("index_key", raw.get("index_key")), tenants)

    def active_kid(self, tenant: str) -> str:
        own = self.tenants.get(tenant)
        return own.active if own is not None else self.masters.active

    def _aead(self, tenant: str, kid: str) -> AESGCM:
        found = self._cache.get((tenant, kid))
        if found is None:
            own = self.tenants.get(tenant)
            if own is not None:
                if kid not in own.keys:
                    raise PiiKeyError(f"unknown pii key id {kid!r} for tenant {tenant!r}")
                key = own.keys[kid]
            else:
                if kid not in self.masters.keys:
                    raise PiiKeyError(f"unknown pii key id {kid!r}")
                key = _derive(self.masters.keys[kid], "pii data key", tenant)
            found = self._cache[(tenant, kid)] = AESGCM(key)
        return found

    def seal(self, tenant: str, field_name: str, value: Any) -> str:
        """`value` (a string, or any JSON value) encrypted for this tenant and field under the active key."""
        kid = self.active_kid(tenant)
        plain = _TEXT + value.encode() if isinstance(value, str) else _JSON + json.dumps(value, default=str).encode()
        nonce = os.urandom(_NONCE)
        sealed = self._aead(tenant, kid).encrypt(nonce, plain, _associated(tenant, field_name, kid))
        return f"{PREFIX}.{kid}.{_b64encode(nonce + sealed)}"

    def open(self, tenant: str, field_name: str, text: str) -> Any:
        """The value `seal` encrypted; PiiKeyError when it was altered, belongs elsewhere or its key is gone."""
        kid = key_id_of(text)
        if kid is None:
            raise PiiKeyError(f"{field_name}: not a sealed value")
        try:
            raw = _b64decode(text.split(".", 2)[2])
        except ValueError as error:
            raise PiiKeyError(f"{field_name}: sealed value is not base64") from error
        if len(raw) < _NONCE + 16:
            raise PiiKeyError(f"{field_name}: sealed value is too short")
        try:
            plain = self._aead(tenant, kid).decrypt(raw[:_NONCE], raw[_NONCE:], _associated(tenant, field_name, kid))
        except InvalidTag as error:
            raise PiiKeyError(f"{field_name}: sealed value fails authentication (altered, or of another "
                              "tenant or field)") from error
        return plain[1:].decode() if plain[:1] == _TEXT else json.loads(plain[1:])

    def blind_index(self, tenant: str, kind: str, value: str) -> str:
        """The keyed index of a normalized value of `kind` (phone, email, name): equal values, equal indexes."""
        key = self._index_cache.get(tenant)
        if key is None:
            key = self._index_cache[tenant] = _derive(self.index_key, "pii blind index", tenant)
        digest = hmac.digest(key, f"{kind}\x00{normalized(kind, value)}".encode(), "sha256")  # one-shot, in C
        return _b64encode(digest[:_INDEX_BYTES])


def _associated(tenant: str, field_name: str, kid: str) -> bytes:
    return f"{PREFIX}\x00{tenant}\x00{field_name}\x00{kid}".encode()


def key_id_of(value: Any) -> str | None:
    """The key id of a sealed value; None for anything else (a legacy plaintext value, None)."""
    if not isinstance(value, str) or not value.startswith(PREFIX + "."):
        return None
    parts = value.split(".", 2)
    return parts[1] if len(parts) == 3 and KEY_ID.match(parts[1]) else None


def normalized(kind: str, value: str) -> str:
    """The form two equal values share: emails and names case-folded, names with their spaces collapsed."""
    text = unicodedata.normalize("NFKC", value).strip()
    if kind == "email":
        return text.casefold()
    if kind == "name":
        return " ".join(text.casefold().split())
    return text


def new_keyring_json(kid: str = "k1") -> str:
    """A fresh keyring with one active key (the local stack's and the test kit's; production's comes from the
    Secret `telesales-pii-keys`, made with `python -m telesales_runtime.pii_keys new`)."""
    return json.dumps({"active": kid, "keys": {kid: base64.b64encode(os.urandom(32)).decode()},
                       "index_key": base64.b64encode(os.urandom(32)).decode()}, indent=2)


def load_keyring(*, inline: str | None, path: str | None) -> Keyring:
    """The keyring from its JSON (`inline`) or from the file a Secret is mounted at (`path`); a clear error
    naming both settings when neither is set."""
    if inline:
        return Keyring.from_json(inline)
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return Keyring.from_json(handle.read())
        except OSError as error:
            raise PiiKeyError(f"pii keyring: cannot read {path}: {error.strerror}") from error
    raise PiiKeyError("pii keyring missing: set TELESALES_PII_KEYRING_FILE to the mounted Secret "
                      "telesales-pii-keys (keyring.json) or TELESALES_PII_KEYRING to its JSON; personal data "
                      "is never stored unencrypted")
