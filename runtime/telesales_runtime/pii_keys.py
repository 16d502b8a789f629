"""The personal data keyring, by hand (deploy/k8s/README.md, "Personal data keys"):

    python -m telesales_runtime.pii_keys new [KEY_ID]            > keyring.json   a first keyring
    python -m telesales_runtime.pii_keys rotate KEY_ID < old.json > new.json      a new key, made active
    python -m telesales_runtime.pii_keys remove KEY_ID < old.json > new.json      an old key, once nothing uses it

The blind index key never changes (look-ups and unique indexes are built on it). Keys are read from and written
to standard input and output only: nothing is logged."""

from __future__ import annotations

import base64
import json
import os
import sys
from typing import Any

from .pii_crypto import KEY_ID, Keyring, new_keyring_json


def rotate(raw: dict[str, Any], kid: str) -> dict[str, Any]:
    if not KEY_ID.match(kid) or kid in raw["keys"]:
        raise SystemExit(f"key id {kid!r}: must be new and match {KEY_ID.pattern}")
    return {**raw, "keys": {**raw["keys"], kid: base64.b64encode(os.urandom(32)).decode()}, "active": kid}


def remove(raw: dict[str, Any], kid: str) -> dict[str, Any]:
    if kid == raw.get("active") or kid not in raw["keys"]:
        raise SystemExit(f"key id {kid!r}: not in the keyring, or still the active one")
    return {**raw, "keys": {k: v for k, v in raw["keys"].items() if k != kid}}


def main(argv: list[str]) -> None:
    command, kid = (argv + [None, None])[:2]
    if command == "new":
        print(new_keyring_json(kid or "k1"))
        return
    if command not in ("rotate", "remove") or kid is None:
        raise SystemExit(__doc__)
    raw = json.loads(sys.stdin.read())
    changed = rotate(raw, kid) if command == "rotate" else remove(raw, kid)
    Keyring.from_json(json.dumps(changed))  # refuse to write a keyring the services would refuse
    print(json.dumps(changed, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
