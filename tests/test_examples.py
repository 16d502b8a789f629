"""The README's example events are what the contracts accept, as the README says, in both content modes of the
CloudEvents Kafka binding (deploy/local/publish.py --binary sends the second)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from telesales_contracts.binding import structured_value
from telesales_contracts.topics import LEADS_RECEIVED

ROOT = Path(__file__).resolve().parent.parent


def publish_tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("publish_tool", ROOT / "deploy" / "local" / "publish.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_examples_are_leads_received() -> None:
    for name in ("lead-received.json", "lead-received-crm.json"):
        LEADS_RECEIVED.parse((ROOT / "examples" / name).read_bytes())


def test_the_outside_crms_example_keeps_its_fields_and_names_its_own_id() -> None:
    event = LEADS_RECEIVED.parse((ROOT / "examples" / "lead-received-crm.json").read_bytes())
    lead = event.data
    assert (event.type, lead.external_id, lead.name, lead.phone) == ("leads.received.v1", "PX-4711", "王芳",
                                                                     "186 0431 2468")
    assert event.model_extra == {"partnerbatch": "2026-11-24-am"}
    assert set(lead.extra_fields()) == {"owner", "partner_score", "tags"}
    # its consent, sent as yes/no flags, is read as consent: calls agreed, sms refused
    assert {scope.value: agreed for scope, agreed in lead.consent.decisions().items()} == {
        "telemarketing": True, "sms": False}


def test_publish_binary_sends_the_same_event_in_binary_mode() -> None:
    sent = json.loads((ROOT / "examples" / "lead-received-crm.json").read_text(encoding="utf-8"))
    value, headers = publish_tool().binary_mode(sent)
    assert ("ce_id", sent["id"].encode()) in headers and ("content-type", b"application/json") in headers
    assert LEADS_RECEIVED.parse(structured_value(value, headers)) == LEADS_RECEIVED.parse(json.dumps(sent))  # type: ignore[arg-type]
