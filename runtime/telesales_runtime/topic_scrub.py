"""Finding an erased person in Kafka records, without I/O: which of the people being erased a record names.

A record names a person when its key, its value or a header holds one of their phone numbers, emails or names
readably. Values are read as JSON where they parse (every string walked, so a name written as \\uXXXX escapes
is found as the name) and as UTF-8 text in any case; strings the platform keeps base64-encoded (a dead
letter's `payload_b64`, `key_b64` and `headers`) are decoded and read the same way. Phone numbers are found
in any writing ("+86 139-1234-5678", "(0)139 1234 5678", "8613912345678"): every phone-like token is reduced
to its digits and matched on the national significant number. Emails and names match case-insensitively.

A false match costs only a larger truncation of records every consumer already processed (and, on the
dead-letter topic, nothing: the others' dead letters are copied forward), so matching leans to finding."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

# A run of digits with the separators people write numbers with; at least 7 digits in all.
PHONE_TOKEN = re.compile(r"\+?\d[\d\s().\-/]{5,}\d")
NON_DIGITS = re.compile(r"\D")
MIN_NAME_CHARS = 2  # a one-character "name" would name half the records
MIN_PHONE_DIGITS = 6
B64_SUFFIX = "_b64"
MAX_DEPTH = 3  # base64 inside JSON inside base64 ...: deep enough for a dead letter about a dead letter


@dataclass(frozen=True)
class Wanted:
    """One person being erased: `ref` names them in results (an erasure request id). `phones`: national
    significant numbers (digits only, e.g. "13912345678"); `emails`, `names`: as written (compared casefolded)."""

    ref: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


def phone_digits(text: str) -> list[str]:
    """The digits of every phone-like token of `text`."""
    return [NON_DIGITS.sub("", token) for token in PHONE_TOKEN.findall(text)]


class Matcher:
    """Which of `wanted` a text or a record names."""

    def __init__(self, wanted: Iterable[Wanted]) -> None:
        self.phones: list[tuple[str, str]] = []
        self.words: list[tuple[str, str]] = []  # emails and names, casefolded
        for person in wanted:
            self.phones += [(p, person.ref) for p in dict.fromkeys(NON_DIGITS.sub("", p) for p in person.phones)
                            if len(p) >= MIN_PHONE_DIGITS]
            self.words += [(e.strip().casefold(), person.ref) for e in person.emails if "@" in e]
            self.words += [(n.strip().casefold(), person.ref) for n in person.names
                           if len(n.strip()) >= MIN_NAME_CHARS]

    def __bool__(self) -> bool:
        return bool(self.phones or self.words)

    def in_text(self, text: str) -> set[str]:
        found = {ref for word, ref in self.words if word in text.casefold()} if self.words else set()
        if self.phones:
            tokens = phone_digits(text)
            found |= {ref for phone, ref in self.phones if any(phone in token for token in tokens)}
        return found

    def in_bytes(self, raw: bytes | None, depth: int = 0) -> set[str]:
        if not raw:
            return set()
        found = self.in_text(raw.decode("utf-8", "replace"))
        if raw[:1] in (b"{", b"[", b'"'):
            try:
                parsed = json.loads(raw)
            except ValueError:
                return found
            for text in strings_of(parsed, depth):
                found |= self.in_text(text)
        return found

    def in_record(self, key: bytes | None, value: bytes | None,
                  headers: Sequence[tuple[str, bytes | None]] = ()) -> set[str]:
        """The refs of the people the record names (by its key, value or headers)."""
        found = self.in_bytes(key) | self.in_bytes(value)
        for name, header in headers:
            found |= self.in_text(name) | self.in_bytes(header)
        return found


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def strings_of(value: Any, depth: int = 0, encoded: bool = False) -> Iterator[str]:
    """Every string in a JSON value (keys included); strings under a `*_b64` key or in a `headers` object
    are also decoded from base64 and read (as JSON where they parse)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_of(item, depth, encoded or (isinstance(key, str) and
                                                           (key.endswith(B64_SUFFIX) or key == "headers")))
    elif isinstance(value, list):
        for item in value:
            yield from strings_of(item, depth, encoded)
    elif isinstance(value, str):
        yield value
        decoded = _b64(value) if encoded and depth < MAX_DEPTH else None
        if decoded:
            yield from _decoded_strings(decoded, depth + 1)


def _decoded_strings(raw: bytes, depth: int) -> Iterator[str]:
    yield raw.decode("utf-8", "replace")
    if raw[:1] in (b"{", b"["):
        try:
            yield from strings_of(json.loads(raw), depth)
        except ValueError:
            return
