"""Tests of the event contracts: topic registry, CloudEvents envelope, data models and committed schemas."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from telesales_contracts import (
    ALL_TOPICS,
    BY_NAME,
    DEFAULT_TENANT,
    CloudEvent,
    Topic,
    WrongEventType,
    envelope_fields,
)
from telesales_contracts.leads import (
    Channel,
    LeadMerged,
    LeadOutcome,
    LeadQualified,
    LeadReceived,
    LeadRejected,
    NumberType,
    Rejection,
    RejectionReason,
    SourceTouch,
)
from telesales_contracts.platform import DeadLetter
from telesales_contracts.schemas import SCHEMA_DIR, main, render, schema_for
from telesales_contracts.topics import (
    DEAD_LETTERS,
    LEADS_MERGED,
    LEADS_OUTCOME,
    LEADS_QUALIFIED,
    LEADS_RECEIVED,
    LEADS_REJECTED,
)

TOPIC_NAME = re.compile(r"^[a-z]+\.[a-z-]+\.v[0-9]+$")
T0 = datetime(2026, 11, 24, 9, 30, tzinfo=timezone(timedelta(hours=8)))


def received_json(**overrides: object) -> bytes:
    event: dict[str, object] = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/crm/acme",
        "type": "telesales.leads.received.v1",
        "time": "2026-11-24T09:30:00+08:00",
        "tenantid": "acme",
        "data": {"name": "张三", "phone": "+86 139-2468-1357", "channel": "微信"},
    }
    for key, value in overrides.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return json.dumps(event, ensure_ascii=False).encode()


def touch() -> SourceTouch:
    return SourceTouch(event_id="evt-1", source="/crm/acme", channel=Channel.IM, channel_raw="微信", received_at=T0)


def qualified(**overrides: object) -> LeadQualified:
    fields: dict[str, object] = dict(
        lead_id="L-1", phone_e164="+8613924681357", email="zs@example.com", name="张三", company="某某科技",
        channel=Channel.IM, channel_raw="微信", business_line="default", product_interest="CRM",
        region="广东省江门市", carrier="中国移动", number_type=NumberType.MOBILE,
        number_check={"checker": "offline", "status": "ok", "detail": "mobile"},
        score=72, grade="A", score_breakdown=[{"feature": "channel", "value": "im", "points": 14}],
        touch=touch(), attributes={"campaign": "double11"},
    )
    fields.update(overrides)
    return LeadQualified(**fields)


def rejected(**overrides: object) -> LeadRejected:
    fields: dict[str, object] = dict(
        reasons=[Rejection(code=RejectionReason.TEST_NUMBER, message="+8613800138000 is a test number")],
        phone_raw="13800138000", phone_e164="+8613800138000", email=None, channel=Channel.IM,
        business_line="default", touch=touch(),
    )
    fields.update(overrides)
    return LeadRejected(**fields)


# --------------------------------------------------------------------------------------------------
# Registry and schemas


def test_registry_lists_the_platform_topics() -> None:
    assert [t.name for t in ALL_TOPICS] == [
        "leads.received.v1", "leads.qualified.v1", "leads.merged.v1", "leads.rejected.v1", "leads.outcome.v1",
        "leads.stage-changed.v1", "leads.complaint.v1", "leads.do-not-call.v1", "leads.consent-changed.v1",
        "leads.signal.v1", "calls.logged.v1",
        "agents.changed.v1", "agents.status-changed.v1", "agents.graded.v1",
        "allocation.assigned.v1", "allocation.claimed.v1", "allocation.returned.v1", "allocation.reclaimed.v1",
        "allocation.closed.v1", "allocation.won.v1", "allocation.reclaim-warning.v1", "allocation.hot-lead.v1",
        "allocation.deal-mark-requested.v1", "allocation.deal-mark-decided.v1", "allocation.win-confirmed.v1",
        "allocation.win-rejected.v1",
        "ledger.transfer-requested.v1", "ledger.transfer-posted.v1", "ledger.transfer-rejected.v1",
        "ledger.coins-allocated.v1", "ledger.coins-reclaimed.v1", "ledger.coins-redeemed.v1",
        "ledger.bonus-awarded.v1", "ledger.transfer-recorded.v1", "ledger.reallocation-decided.v1",
        "ledger.reallocation-awaiting.v1",
        "marketplace.tip-submitted.v1", "marketplace.tip-reviewed.v1", "marketplace.tip-listed.v1",
        "marketplace.tip-delisted.v1", "marketplace.purchase-requested.v1", "marketplace.purchase-completed.v1",
        "marketplace.purchase-refused.v1", "marketplace.tip-visited.v1", "marketplace.learn-progressed.v1",
        "marketplace.tip-rated.v1", "marketplace.tip-forwarded.v1", "marketplace.daily-active.v1",
        "marketplace.deep-learner-flagged.v1", "marketplace.struggle-recommended.v1",
        "platform.dead-lettered.v1", "security.unmask-budget-exceeded.v1",
        "privacy.erasure-requested.v1", "privacy.erasure-completed.v1",
    ]
    assert BY_NAME == {t.name: t for t in ALL_TOPICS}
    assert len(BY_NAME) == len(ALL_TOPICS)


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_topic_name_and_event_type(topic: Topic) -> None:
    assert TOPIC_NAME.match(topic.name), topic.name
    assert topic.event_type == f"telesales.{topic.name}"
    assert topic.description


def test_data_models_per_topic() -> None:
    assert LEADS_RECEIVED.data_model is LeadReceived
    assert LEADS_QUALIFIED.data_model is LeadQualified
    assert LEADS_MERGED.data_model is LeadMerged
    assert LEADS_REJECTED.data_model is LeadRejected
    assert LEADS_OUTCOME.data_model is LeadOutcome
    assert DEAD_LETTERS.data_model is DeadLetter


def test_committed_schemas_are_current() -> None:
    assert main(["--check"]) == 0


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_committed_schema_equals_generated(topic: Topic) -> None:
    path = SCHEMA_DIR / f"{topic.name}.json"
    assert path.is_file(), f"missing committed schema {path}"
    assert path.read_text(encoding="utf-8") == render(topic)


def test_no_stray_committed_schemas() -> None:
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(f"{t.name}.json" for t in ALL_TOPICS)


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_schema_pins_type_and_identity(topic: Topic) -> None:
    schema = json.loads((SCHEMA_DIR / f"{topic.name}.json").read_text(encoding="utf-8"))
    assert schema["$id"] == f"urn:telesales:schema:{topic.name}"
    assert schema["title"] == topic.name
    assert schema["description"] == topic.description
    assert schema["properties"]["type"]["const"] == topic.event_type
    assert schema["properties"]["type"]["type"] == "string"
    assert {"specversion", "id", "source", "type", "data"} <= set(schema["required"])
    assert schema["properties"]["tenantid"]["default"] == "default"


def test_check_reports_a_stale_schema(monkeypatch: pytest.MonkeyPatch, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import telesales_contracts.schemas as schemas

    for topic in ALL_TOPICS:
        (tmp_path / f"{topic.name}.json").write_text(render(topic), encoding="utf-8")
    monkeypatch.setattr(schemas, "SCHEMA_DIR", tmp_path)
    assert schemas.main(["--check"]) == 0
    (tmp_path / "leads.outcome.v1.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "leads.merged.v1.json").unlink()
    assert schemas.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "leads.outcome.v1.json" in err and "leads.merged.v1.json" in err
    assert "leads.received.v1.json" not in err
    # Without --check the files are written again.
    assert schemas.main([]) == 0
    assert (tmp_path / "leads.outcome.v1.json").read_text(encoding="utf-8") == render(LEADS_OUTCOME)
    assert schemas.main(["--check"]) == 0


def test_schema_for_lets_leads_and_outcomes_carry_fields_it_does_not_name() -> None:
    assert schema_for(LEADS_RECEIVED)["$defs"]["LeadReceived"]["additionalProperties"] is True
    assert schema_for(LEADS_RECEIVED)["$defs"]["Behaviour"]["additionalProperties"] is True
    assert schema_for(LEADS_OUTCOME)["$defs"]["LeadOutcome"]["additionalProperties"] is True


# --------------------------------------------------------------------------------------------------
# Envelope round trip


def test_received_event_round_trips() -> None:
    lead = LeadReceived(name="张三", phone="+86 139-2468-1357", channel="微信", attributes={"utm": "x"})
    event = LEADS_RECEIVED.event(lead, source="/crm/acme", tenantid="acme", subject="lead-42", time=T0)
    raw = event.to_json_bytes()
    parsed = LEADS_RECEIVED.parse(raw)
    assert parsed == event
    assert parsed.data == lead
    assert isinstance(parsed.data, LeadReceived)
    assert parsed.type == "telesales.leads.received.v1"
    assert parsed.tenantid == "acme"
    assert parsed.subject == "lead-42"
    assert parsed.time == T0 and parsed.time.utcoffset() == timedelta(hours=8)
    assert LEADS_RECEIVED.parse(raw.decode()) == event  # str is accepted too


def test_event_defaults() -> None:
    event = LEADS_RECEIVED.event(LeadReceived(phone="13924681357"), source="urn:web:landing", tenantid="acme")
    assert event.specversion == "1.0"
    assert event.datacontenttype == "application/json"
    assert event.time.tzinfo is not None
    assert abs(event.time - datetime.now(UTC)) < timedelta(minutes=1)
    assert event.subject is None
    other = LEADS_RECEIVED.event(LeadReceived(phone="13924681357"), source="urn:web:landing", tenantid="acme")
    assert event.id and other.id and event.id != other.id


def test_none_subject_is_left_out_of_the_json() -> None:
    event = LEADS_RECEIVED.event(LeadReceived(phone="1"), source="/s", tenantid="acme")
    body = json.loads(event.to_json_bytes())
    assert "subject" not in body
    assert body["type"] == "telesales.leads.received.v1"
    assert body["data"]["phone"] == "1"
    assert body["data"]["business_line"] == "default"


def test_extension_attributes_survive_the_round_trip() -> None:
    event = LEADS_OUTCOME.event(LeadOutcome(lead_id="L-1", outcome="won", amount_fen=129900), source="/crm/acme",
                                tenantid="acme", traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    parsed = LEADS_OUTCOME.parse(event.to_json_bytes())
    assert parsed.model_extra == {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    assert parsed.data.amount_fen == 129900


def test_qualified_event_round_trips_when_every_field_is_set() -> None:
    event = LEADS_QUALIFIED.event(qualified(), source="/svc/lead-intake", tenantid="acme")
    assert LEADS_QUALIFIED.parse(event.to_json_bytes()) == event


def test_qualified_event_with_null_fields_round_trips() -> None:
    """An email-only lead has no phone, carrier, number type or check: the required-but-nullable fields
    must be written as null (not left out), or consumers cannot parse the event."""
    data = qualified(phone_e164=None, name=None, company=None, channel_raw=None, product_interest=None,
                     region=None, carrier=None, number_type=None, number_check=None)
    event = LEADS_QUALIFIED.event(data, source="/svc/lead-intake", tenantid="acme")
    raw = event.to_json_bytes()
    body = json.loads(raw)
    for name in ("phone_e164", "name", "company", "carrier", "number_type", "number_check"):
        assert name in body["data"] and body["data"][name] is None
    assert LEADS_QUALIFIED.parse(raw) == event


def test_rejected_event_with_null_fields_round_trips() -> None:
    data = rejected(phone_raw=None, phone_e164=None, email="broken",
                    reasons=[Rejection(code=RejectionReason.NO_CONTACT, message="neither")])
    event = LEADS_REJECTED.event(data, source="/svc/lead-intake", tenantid="acme")
    assert LEADS_REJECTED.parse(event.to_json_bytes()) == event


def test_merged_and_dead_letter_events_round_trip() -> None:
    merged = LeadMerged(lead_id="L-1", matched_on="phone", touch=touch(), touches=2)
    e1 = LEADS_MERGED.event(merged, source="/svc/lead-intake", tenantid="acme")
    assert LEADS_MERGED.parse(e1.to_json_bytes()) == e1
    letter = DeadLetter(original_topic="leads.received.v1", consumer_group="lead-intake", service="lead-intake",
                        error_type="json_error", error="Expecting value", payload_b64="e30=")
    e2 = DEAD_LETTERS.event(letter, source="/svc/lead-intake", tenantid="default")
    assert DEAD_LETTERS.parse(e2.to_json_bytes()) == e2


def test_envelope_fields_leave_out_data() -> None:
    event = LEADS_RECEIVED.event(LeadReceived(phone="1"), source="/s", tenantid="acme", id="evt-9", time=T0)
    assert envelope_fields(event) == {
        "specversion": "1.0", "id": "evt-9", "source": "/s", "type": "telesales.leads.received.v1",
        "time": "2026-11-24T09:30:00+08:00", "datacontenttype": "application/json", "tenantid": "acme",
    }


# --------------------------------------------------------------------------------------------------
# Topic.parse rejections


def test_parse_accepts_the_reference_event() -> None:
    event = LEADS_RECEIVED.parse(received_json())
    assert event.id == "evt-1"
    assert event.data.phone == "+86 139-2468-1357"
    assert event.time == datetime(2026, 11, 24, 1, 30, tzinfo=UTC)


def test_default_tenant() -> None:
    assert DEFAULT_TENANT == "default"
    assert LEADS_RECEIVED.parse(received_json(tenantid=None)).tenantid == "default"
    assert CloudEvent[LeadReceived](specversion="1.0", id="e", type="x", source="/s",
                                    data=LeadReceived()).tenantid == "default"


@pytest.mark.parametrize("wrong_type", ["telesales.leads.qualified.v1", "telesales.leads.received.v2",
                                        "leads.qualified.v1", "com.example.lead", "lead.received", "leadsreceived",
                                        "telesales", "leads.received.v1.extra", "acme.leads.received.v1", "-"])
def test_parse_rejects_the_type_of_another_topic_naming_both(wrong_type: str) -> None:
    with pytest.raises(WrongEventType) as refused:
        LEADS_RECEIVED.parse(received_json(type=wrong_type))
    assert "'telesales.leads.received.v1'" in str(refused.value) and repr(wrong_type) in str(refused.value)


@pytest.mark.parametrize("spelling", ["telesales.leads.received.v1", "leads.received.v1", "LEADS.RECEIVED.V1",
                                      "leads_received_v1", "leads-received", "Telesales.LeadsReceived.V1",
                                      "leadsReceivedV1", "leads/received/v1", "TELESALES_LEADS_RECEIVED",
                                      " leads.received.v1 "])
def test_parse_accepts_another_spelling_of_the_topics_type_and_keeps_it(spelling: str) -> None:
    event = LEADS_RECEIVED.parse(received_json(type=spelling))
    assert event.type == spelling
    assert LEADS_RECEIVED.accepts_type(spelling)


def test_spellings_of_types_with_dashes_and_versions() -> None:
    from telesales_contracts.topics import LEADS_STAGE_CHANGED
    assert LEADS_STAGE_CHANGED.accepts_type("leads.stageChanged.v1")
    assert LEADS_STAGE_CHANGED.accepts_type("LeadsStageChanged")
    assert not LEADS_STAGE_CHANGED.accepts_type("leads.stage.v1")
    assert not LEADS_STAGE_CHANGED.accepts_type("leads.stage-changed.v12")


@pytest.mark.parametrize("missing", ["id", "specversion", "source", "type"])
def test_parse_requires_the_attributes_cloudevents_requires(missing: str) -> None:
    """Without an id an event used to get a random one: a redelivery was then processed twice."""
    with pytest.raises(ValidationError) as refused:
        LEADS_RECEIVED.parse(received_json(**{missing: None}))
    assert [e["loc"] for e in refused.value.errors()] == [(missing,)]
    assert refused.value.errors()[0]["type"] == "missing"


@pytest.mark.parametrize("media", ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                                   "text/json", "application/vnd.acme.lead+json"])
def test_parse_accepts_json_data_content_types(media: str) -> None:
    assert LEADS_RECEIVED.parse(received_json(datacontenttype=media)).datacontenttype == media


@pytest.mark.parametrize("media", ["text/plain", "application/xml", "application/jsonx", "json", ""])
def test_parse_refuses_data_content_types_that_are_not_json(media: str) -> None:
    with pytest.raises(ValidationError, match="datacontenttype"):
        LEADS_RECEIVED.parse(received_json(datacontenttype=media))


def test_unknown_extension_attributes_are_kept() -> None:
    event = LEADS_RECEIVED.parse(received_json(partitionkey="+8613924681357", traceparent="00-ab-cd-01",
                                               comexampleextension1={"nested": True}))
    assert event.model_extra == {"partitionkey": "+8613924681357", "traceparent": "00-ab-cd-01",
                                 "comexampleextension1": {"nested": True}}


def test_wrong_event_type_is_a_value_error() -> None:
    assert issubclass(WrongEventType, ValueError)


def test_parse_requires_type() -> None:
    with pytest.raises(ValidationError):
        LEADS_RECEIVED.parse(received_json(type=None))


@pytest.mark.parametrize("naive", ["2026-11-24T09:30:00", "2026-11-24 09:30:00"])
def test_parse_rejects_time_without_timezone(naive: str) -> None:
    with pytest.raises(ValidationError, match="timezone"):
        LEADS_RECEIVED.parse(received_json(time=naive))


def test_event_refuses_naive_time_when_built() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        LEADS_RECEIVED.event(LeadReceived(phone="1"), source="/s", tenantid="acme", time=datetime(2026, 1, 1))


@pytest.mark.parametrize("tenant", ["Acme", "-acme", "acme_corp", "acme corp", "", "a" * 64, "阿里"])
def test_parse_rejects_bad_tenantid(tenant: str) -> None:
    with pytest.raises(ValidationError):
        LEADS_RECEIVED.parse(received_json(tenantid=tenant))


@pytest.mark.parametrize("tenant", ["acme", "0day", "acme-east-2", "a" * 63])
def test_parse_accepts_good_tenantid(tenant: str) -> None:
    assert LEADS_RECEIVED.parse(received_json(tenantid=tenant)).tenantid == tenant


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"[]", b"null", "\u00ff".encode("latin-1")])
def test_parse_rejects_invalid_json(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        LEADS_RECEIVED.parse(raw)


def test_parse_keeps_fields_the_lead_contract_does_not_name() -> None:
    data = {"name": "张三", "phone": "13924681357", "phnoe": "13924681357", "utm": {"source": "baidu"}}
    lead = LEADS_RECEIVED.parse(received_json(data=data)).data
    assert lead.model_extra == {"phnoe": "13924681357", "utm": {"source": "baidu"}}
    assert json.loads(lead.model_dump_json())["utm"] == {"source": "baidu"}  # written back as it came


@pytest.mark.parametrize("data", [
    {"phone": "1" * 41},
    {"phone_region": "CHN"},
    {"business_line": ""},
    {"behaviour": {"logins_7d": -1}},
    {"behaviour": {"logins_7d": "many"}},
    {"external_id": ["a"]},
    {"crm_id": 1.5},
    {"attributes": {"k": "v" * 201}},
])
def test_parse_rejects_bad_lead_data(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LEADS_RECEIVED.parse(received_json(data=data))


@pytest.mark.parametrize("field, value", [("specversion", "0.3"), ("id", "   "), ("source", ""),
                                          ("datacontenttype", "text/plain"), ("data", None)])
def test_parse_rejects_bad_envelope(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        LEADS_RECEIVED.parse(received_json(**{field: value if value is not None else None}))


def test_parse_strips_id_whitespace() -> None:
    assert LEADS_RECEIVED.parse(received_json(id="  evt-7 ")).id == "evt-7"


def test_parse_ignores_unknown_fields_in_emitted_events() -> None:
    """Emitted events are read tolerantly so that adding a field is not a breaking change."""
    event = LEADS_MERGED.event(LeadMerged(lead_id="L-1", matched_on="email", touch=touch(), touches=3),
                               source="/s", tenantid="acme")
    body = json.loads(event.to_json_bytes())
    body["data"]["new_field"] = 1
    assert LEADS_MERGED.parse(json.dumps(body)).data.touches == 3


# --------------------------------------------------------------------------------------------------
# Topic.event and data models


def test_event_refuses_the_data_of_another_topic() -> None:
    with pytest.raises(TypeError, match="leads.outcome.v1 carries LeadOutcome, not LeadReceived"):
        LEADS_OUTCOME.event(LeadReceived(phone="1"), source="/s", tenantid="acme")
    with pytest.raises(TypeError):
        LEADS_RECEIVED.event(LeadOutcome(lead_id="L-1", outcome="won"), source="/s", tenantid="acme")


def test_event_refuses_a_bad_tenant() -> None:
    with pytest.raises(ValidationError):
        LEADS_RECEIVED.event(LeadReceived(phone="1"), source="/s", tenantid="ACME")


def test_events_are_frozen() -> None:
    event = LEADS_RECEIVED.event(LeadReceived(phone="1"), source="/s", tenantid="acme")
    with pytest.raises(ValidationError):
        event.tenantid = "other"  # type: ignore[misc]


def test_lead_outcome_refuses_amount_on_a_lost_lead() -> None:
    with pytest.raises(ValidationError, match="amount_fen"):
        LeadOutcome(lead_id="L-1", outcome="lost", amount_fen=100)
    with pytest.raises(ValidationError, match="amount_fen"):
        LeadOutcome(lead_id="L-1", outcome="lost", amount_fen=0)


def test_lead_outcome_accepts() -> None:
    assert LeadOutcome(lead_id="L-1", outcome="won", amount_fen=129900).amount_fen == 129900
    assert LeadOutcome(lead_id="L-1", outcome="lost").amount_fen is None
    assert LeadOutcome(lead_id="L-1", outcome="won").business_line is None


@pytest.mark.parametrize("fields", [
    dict(lead_id="L-1", outcome="won", amount_fen=-1),
    dict(lead_id="", outcome="won"),
    dict(lead_id="L-1", outcome="maybe"),
    dict(outcome="won"),
    dict(outcome="won", crm_id=""),
])
def test_lead_outcome_rejects(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LeadOutcome(**fields)


def test_lead_outcome_amount_on_lost_is_rejected_through_parse() -> None:
    body = received_json(type="telesales.leads.outcome.v1",
                         data={"lead_id": "L-1", "outcome": "lost", "amount_fen": 500})
    with pytest.raises(ValidationError, match="amount_fen"):
        LEADS_OUTCOME.parse(body)


@pytest.mark.parametrize("score", [-1, 101])
def test_qualified_score_is_bounded(score: int) -> None:
    with pytest.raises(ValidationError):
        qualified(score=score)


def test_rejected_needs_a_reason() -> None:
    with pytest.raises(ValidationError):
        rejected(reasons=[])


def test_merged_needs_a_touch() -> None:
    """One touch after a merge: the same outside record came again and its touch was updated."""
    assert LeadMerged(lead_id="L-1", matched_on="external_ref", touch=touch(), touches=1).touches == 1
    with pytest.raises(ValidationError):
        LeadMerged(lead_id="L-1", matched_on="phone", touch=touch(), touches=0)
