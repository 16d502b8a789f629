"""Keyrings for the rotation tests: key ids `a` then `b`, sharing the blind index key (look-ups survive a
rotation of the data keys)."""

from __future__ import annotations

import base64
import json
import os

from telesales_runtime.pii_crypto import Keyring

_KEYS = {kid: base64.b64encode(os.urandom(32)).decode() for kid in ("a", "b")}
_INDEX = base64.b64encode(os.urandom(32)).decode()


def keyring(active: str, *kids: str) -> Keyring:
    """A keyring with `kids` (their keys the same in every keyring this process makes), `active` in force."""
    return Keyring.from_json(json.dumps({"active": active, "keys": {k: _KEYS[k] for k in kids}, "index_key": _INDEX}))
