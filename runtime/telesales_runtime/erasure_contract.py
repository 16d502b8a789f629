"""An event scrubbed by an erasure still keeps its topic's contract: a required text field the scrub cleared
(a close's `reason`, a note) would otherwise make consumers dead-letter the event, and the change it announces
(a lead closed, a mark decided) would be lost for them. Such a field says ERASED_TEXT instead."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from telesales_contracts.topics import BY_NAME

ERASED_TEXT = "[erased]"
_TEXT_ERRORS = frozenset({"string_type", "string_too_short"})
_ROUNDS = 3  # each round fills what the last validation named; nested models may need another


def _set(data: Any, loc: tuple[Any, ...], value: Any) -> bool:
    for step in loc[:-1]:
        if isinstance(data, dict) and step in data:
            data = data[step]
        elif isinstance(data, list) and isinstance(step, int) and step < len(data):
            data = data[step]
        else:
            return False
    if isinstance(data, dict) and isinstance(loc[-1], str):
        data[loc[-1]] = value
        return True
    return False


def kept_valid(topic_name: str | None, payload: bytes) -> bytes:
    """`payload` (a scrubbed CloudEvent) with each required text field the scrub emptied set to ERASED_TEXT, so
    that it still validates as its topic's data; unchanged when it already does, or is of no known topic."""
    topic = BY_NAME.get(topic_name or "")
    if topic is None:
        return payload
    event = json.loads(payload)
    data = event.get("data")
    changed = False
    for _ in range(_ROUNDS):
        try:
            topic.data_model.model_validate(data)
            break
        except ValidationError as invalid:
            filled = [_set(data, tuple(error["loc"]), ERASED_TEXT) for error in invalid.errors()
                      if error["type"] in _TEXT_ERRORS and error.get("input") in (None, "")]
            if not any(filled):
                break
            changed = True
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode() if changed else payload
