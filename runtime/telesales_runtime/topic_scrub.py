"""Finding an erased person in Kafka records, without I/O: which of the people being erased a record names.

A record names a person when its key, its value or a header holds one of their phone numbers, emails or names
readably. Values are read as JSON where they parse (every string walked, so a name written as \\uXXXX escapes
is found as the name) and as UTF-8 text in any case; strings the platform keeps base64-encoded (a dead
letter's `payload_b64`, `key_b64` and `headers`) are decoded and read the same way. Phone numbers are found
in any writing ("+86 139-1234-5678", "(0)139 1234 5678", "8613912345678"): the digit groups of every
phone-like token are joined and matched on the national significant number, alone or after its country code
and/or a trunk 0, never inside a longer number. Emails and names match case-insensitively as whole
words (a CJK name, written without spaces, anywhere in the text).

A false match costs a larger truncation of records every consumer already processed and, on the dead-letter
topic, the falsely matched dead letter itself (it is not copied forward): matching finds every writing of
the person's own values, and no more (whole words, whole numbers)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

NON_DIGITS = re.compile(r"\D")
# A run of digits with the separators people write numbers with; at least 7 digits in all.
PHONE_TOKEN = re.compile(r"\+?\d[\d\s().\-/]{5,}\d")
SEPARATORS = re.compile(r"[^\d]+")
MAX_GROUPS = 6  # "+86 (0) 139 1234 5678": a number is written in at most this many groups of digits
MIN_NAME_CHARS = 2  # a one-character "name" would name half the records
MIN_PHONE_DIGITS = 6
B64_SUFFIX = "_b64"
MAX_DEPTH = 3  # base64 inside JSON inside base64 ...: deep enough for a dead letter about a dead letter
CJK_FROM = 0x2E80  # names in CJK scripts are written without spaces: matched inside text


@dataclass(frozen=True)
class Wanted:
    """One person being erased: `ref` names them in results (an erasure request id). `phones`: (country code,
    national significant number), digits only, e.g. ("86", "13912345678"); `emails`, `names`: as written
    (compared casefolded)."""

    ref: str
    phones: tuple[tuple[str, str], ...] = ()
    emails: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


def phone_numbers(text: str) -> set[str]:
    """Every number `text` may write: the digits of each run of up to MAX_GROUPS consecutive digit groups of
    every phone-like token ("+86 139-1234-5678" gives "8613912345678", "13912345678", "12345678", ...). A
    number is matched when one of them is its national number, alone or after its country code and/or a
    trunk 0: whole groups, so a number inside a longer one (a timestamp, an order number) is not."""
    out: set[str] = set()
    for token in PHONE_TOKEN.findall(text):
        groups = [group for group in SEPARATORS.split(token) if group]
        for start in range(len(groups)):
            joined = ""
            for group in groups[start:start + MAX_GROUPS]:
                joined += group
                out.add(joined)
    return out


def _word(text: str, email: bool = False) -> re.Pattern[str]:
    """A name or an email as a whole word (not inside a longer one); a CJK name anywhere."""
    if any(ord(char) >= CJK_FROM for char in text):
        return re.compile(re.escape(text))
    body = r"\s+".join(re.escape(part) for part in text.split())
    before, after = (r"(?<![\w.+-])", r"(?![\w-]|\.\w)") if email else (r"(?<!\w)", r"(?!\w)")
    return re.compile(before + body + after)


class Matcher:
    """Which of `wanted` a text or a record names."""

    def __init__(self, wanted: Iterable[Wanted]) -> None:
        self.phones: list[tuple[str, str]] = []
        self.words: list[tuple[re.Pattern[str], str]] = []  # emails and names, casefolded
        for person in wanted:
            for country, national in person.phones:
                national, country = NON_DIGITS.sub("", national), NON_DIGITS.sub("", country)
                if len(national) >= MIN_PHONE_DIGITS:
                    self.phones += [(prefix + national, person.ref) for prefix in
                                    ("", "0", country, f"{country}0", f"00{country}", f"00{country}0")]
            self.words += [(_word(e.strip().casefold(), email=True), person.ref) for e in person.emails if "@" in e]
            self.words += [(_word(n.strip().casefold()), person.ref) for n in person.names
                           if len(n.strip()) >= MIN_NAME_CHARS]

    def __bool__(self) -> bool:
        return bool(self.phones or self.words)

    def in_text(self, text: str) -> set[str]:
        found: set[str] = set()
        if self.words:
            folded = text.casefold()
            found |= {ref for pattern, ref in self.words if pattern.search(folded)}
        if self.phones:
            numbers = phone_numbers(text)
            found |= {ref for phone, ref in self.phones if phone in numbers}
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
