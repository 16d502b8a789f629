"""Where a lead came from (pure functions, no I/O): the touch each arrival leaves on the lead, and the outside
systems' own references of a lead.

The producing system of an arrival is the lead's `source_system` (or an alias of it) when it names one, else
the event's `source`: a gateway forwarding several CRMs names each, a CRM publishing itself needs not. Its own
id of the lead (`external_id`, whatever it calls it) with that system is the outside reference: one lead per
(tenant, system, id), and a second arrival with it updates that touch instead of adding one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .cleaning import CleanLead

Ref = dict[str, str]  # {"source_system": ..., "external_id": ...}: ExternalRef as stored and sent


def producing_system(clean: CleanLead, event_source: str) -> str:
    return clean.source_system or event_source


def touch(*, event_id: str, event_source: str, event_type: str, received_at: datetime,
          clean: CleanLead) -> dict[str, Any]:
    """The arrival as a SourceTouch (its wire form: plain data, one per lead on the hot path)."""
    return {"event_id": event_id, "source": event_source, "channel": clean.channel.value,
            "channel_raw": clean.channel_raw, "received_at": received_at,
            "source_system": producing_system(clean, event_source), "external_id": clean.external_id,
            "event_type": event_type}


def touch_doc(sent: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The touch as stored on the lead: with the fields the arrival carried beyond the contract."""
    return {**sent, "extra": dict(extra)} if extra else dict(sent)


def ref_of(sent: Mapping[str, Any]) -> Ref | None:
    """The outside reference a touch carries, if its system gave its own id of the lead."""
    if sent.get("external_id") is None:
        return None
    return {"source_system": sent["source_system"], "external_id": sent["external_id"]}


def ref_key(ref: Ref) -> tuple[str, str]:
    """The reference as a key: one outside record (system, its id of the lead)."""
    return ref["source_system"], ref["external_id"]


def with_ref(refs: Iterable[Ref], ref: Ref | None) -> list[Ref]:
    """`refs` and `ref`, once each, in the order they came."""
    out = list(refs)
    if ref is not None and ref not in out:
        out.append(ref)
    return out


def lead_extra(touches: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The fields beyond the contract a lead came with: every touch's, a later touch's value of a name over an
    earlier one's (an outside record sent again with new values updates them)."""
    out: dict[str, Any] = {}
    for each in touches:
        out.update(each.get("extra") or {})
    return out
