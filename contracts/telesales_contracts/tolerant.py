"""Reading data the way outside systems send it (a tolerant reader, as Kafka's forward-compatibility rules and
CloudEvents expect): a field the contract does not name is kept under its own name, never a reason to refuse
the event; a value of a named field that cannot be read is still refused, saying which.

- Names: a key that is a contract field's name in another case or with other separators ("Phone",
  "BUSINESS-LINE", "businessLine") is that field. Two keys naming one field with different values are refused.
- Aliases: some fields are also read from other names (`Vocabulary.aliases`, e.g. the outside system's lead id
  from `crm_id`); the first alias (in the vocabulary's order) with a value wins, the others stay extra fields.
- Extra fields (every other key) are bounded, or refused with the bound named: at most MAX_EXTRA_FIELDS of
  them, names of 1..MAX_EXTRA_NAME characters that neither start with `$` nor hold `.` or control characters
  (at any depth: they are stored in MongoDB as they are), values nested at most MAX_EXTRA_DEPTH deep, whole
  numbers within 64 bits, no NaN or infinity, and at most MAX_EXTRA_BYTES of JSON for all of them together.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .envelope import type_words

MAX_EXTRA_FIELDS = 50
MAX_EXTRA_NAME = 64
MAX_EXTRA_DEPTH = 5
MAX_EXTRA_BYTES = 16 * 1024
_INT64 = 2**63
_BAD_NAME = re.compile(r"^\$|[.\x00-\x1f\x7f]")


def name_key(name: str) -> str:
    """A name without its case and separators: "sourceLeadId", "Source-Lead ID" and "SOURCE_LEAD_ID" all give
    source_lead_id."""
    return "_".join(type_words(name))


@dataclass(frozen=True)
class Vocabulary:
    """The names a contract reads: its fields, other names of some of them (in order of precedence, after the
    field's own name), and the vocabularies of its fields that are objects."""

    fields: frozenset[str]
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    nested: Mapping[str, Vocabulary] = field(default_factory=dict)

    def target(self, name: str) -> tuple[str, int] | None:
        """(the field `name` names, its rank among the field's names: 0 for the field's own), or None."""
        if name in self.fields:
            return name, 0
        return self._by_key.get(name_key(name))

    @cached_property  # written into the instance's __dict__, which a frozen dataclass allows
    def _by_key(self) -> dict[str, tuple[str, int]]:
        keys = {name_key(f): (f, 0) for f in self.fields}
        for target, names in self.aliases.items():
            for rank, alias in enumerate(names, start=1):
                keys.setdefault(name_key(alias), (target, rank))
        return keys


_VOCABULARIES: dict[type, Vocabulary] = {}


def register(model: type, vocabulary: Vocabulary) -> Vocabulary:
    """Say that `model` reads its data tolerantly with `vocabulary` (readings of it then do too)."""
    _VOCABULARIES[model] = vocabulary
    return vocabulary


def vocabulary_of(model: type) -> Vocabulary | None:
    return _VOCABULARIES.get(model)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read(data: Any, vocabulary: Vocabulary, *, within: str = "data", whole: bool = True) -> Any:
    """`data` with its names as the contract spells them and its aliases resolved; with `whole` (the contract),
    also its extra fields checked against the bounds (kept under their own names) and a name spelled twice
    with different values refused. Without it (a reading, which reads a few fields): a field's exact name
    wins over other spellings of it, as on the readings' fast path. Raises ValueError with what is wrong."""
    if not isinstance(data, dict):
        return data  # the model refuses it, saying what it expected
    fields = vocabulary.fields
    if all(key in fields for key in data):
        # Every key is a field's own name (what a sender following the contract sends): nothing to rename,
        # resolve or bound; the same result as below, at a fraction of its cost (it is most of a lead's parse).
        return {key: read(value, vocabulary.nested[key], within=key) if whole and key in vocabulary.nested
                else None if key in vocabulary.aliases and _blank(value) else value for key, value in data.items()}
    return _read_spellings(data, vocabulary, within=within, whole=whole)


def _read_spellings(data: dict[Any, Any], vocabulary: Vocabulary, *, within: str, whole: bool) -> Any:
    """read() of data whose keys are not all the fields' own names."""
    given: dict[str, dict[int, list[tuple[str, Any]]]] = {}  # field -> rank -> [(key as given, value)], exact first
    extra: dict[str, Any] = {}
    for key, value in data.items():
        target = vocabulary.target(key) if isinstance(key, str) else None
        if target is None:
            extra[key] = value
            continue
        name, rank = target
        if whole and name in vocabulary.nested:
            value = read(value, vocabulary.nested[name], within=name)
        spellings = given.setdefault(name, {}).setdefault(rank, [])
        exact = key == (name if rank == 0 else vocabulary.aliases[name][rank - 1])
        spellings.insert(0, (key, value)) if exact else spellings.append((key, value))
    out: dict[str, Any] = {}
    for name, by_rank in given.items():
        values: dict[int, Any] = {}
        for rank, spellings in by_rank.items():
            first_key, value = spellings[0]
            exact = first_key == (name if rank == 0 else vocabulary.aliases[name][rank - 1])
            for key, other in spellings[1:]:
                if other != value and (whole or not exact):
                    raise ValueError(f"{name} is given twice with different values, as {first_key!r} and {key!r}")
            values[rank] = value
        chosen = next((rank for rank in sorted(values) if not _blank(values[rank])), None)
        if chosen is not None:
            out[name] = values[chosen]
        else:  # no name of it has a value: a field with aliases has none, another keeps its value as it came
            out[name] = None if name in vocabulary.aliases else values.get(0)
        for rank in sorted(values):
            if rank > 0 and rank != chosen:  # another name of the field: kept as it came
                extra[by_rank[rank][0][0]] = values[rank]
    if whole:
        check_extra(extra, within=within)
    return {**out, **extra}


def check_extra(extra: Mapping[Any, Any], *, within: str = "data") -> None:
    """Raises ValueError when extra fields break a bound (see the module)."""
    if len(extra) > MAX_EXTRA_FIELDS:
        raise ValueError(f"{within} carries {len(extra)} fields the contract does not name; at most "
                         f"{MAX_EXTRA_FIELDS} are kept")
    for name, value in extra.items():
        _check_name(name, name)
        _check_value(value, name, 0)
    if extra:
        size = len(json.dumps(extra, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_EXTRA_BYTES:
            raise ValueError(f"the fields {within} carries beyond the contract take {size} bytes of JSON; at most "
                             f"{MAX_EXTRA_BYTES} are kept")


def _check_name(name: Any, path: str) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_EXTRA_NAME:
        raise ValueError(f"extra field {path!r}: a name has 1 to {MAX_EXTRA_NAME} characters")
    if _BAD_NAME.search(name):
        raise ValueError(f"extra field {path!r}: a name may not start with '$' or hold '.' or control characters")


def _check_value(value: Any, path: str, depth: int) -> None:
    if isinstance(value, dict | list):
        if depth >= MAX_EXTRA_DEPTH:
            raise ValueError(f"extra field {path!r} is nested more than {MAX_EXTRA_DEPTH} levels deep")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, inner in items:
            if isinstance(value, dict):
                _check_name(key, f"{path}/{key}")
            _check_value(inner, f"{path}/{key}", depth + 1)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValueError(f"extra field {path!r}: a whole number beyond 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"extra field {path!r}: not a finite number")
    else:
        raise ValueError(f"extra field {path!r}: not a JSON value")
