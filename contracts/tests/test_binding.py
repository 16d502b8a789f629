"""The CloudEvents Kafka binding: a binary-mode record reads as its structured equivalent, a structured one as it
is, and what the binding cannot read is refused with the reason."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from telesales_contracts.binding import BindingError, has_attribute_headers, structured_value
from telesales_contracts.topics import LEADS_OUTCOME, LEADS_RECEIVED

DATA = {"name": "张伟", "phone": "139 2468 1357", "channel": "微信"}
STRUCTURED = json.dumps({"specversion": "1.0", "id": "e-1", "source": "/crm/acme", "type": "telesales.leads.received.v1",
                         "time": "2026-11-24T09:30:00+08:00", "tenantid": "acme", "data": DATA},
                        ensure_ascii=False).encode()


def binary_headers(**overrides: str | None) -> list[tuple[str, bytes]]:
    headers = {"ce_specversion": "1.0", "ce_id": "e-1", "ce_source": "/crm/acme",
               "ce_type": "telesales.leads.received.v1", "ce_time": "2026-11-24T09:30:00+08:00",
               "ce_tenantid": "acme", "content-type": "application/json"}
    headers.update(overrides)
    return [(name, value.encode()) for name, value in headers.items() if value is not None]


VALUE = json.dumps(DATA, ensure_ascii=False).encode()


def test_a_binary_record_reads_as_its_structured_equivalent() -> None:
    binary = LEADS_RECEIVED.parse(structured_value(VALUE, binary_headers()))  # type: ignore[arg-type]
    structured = LEADS_RECEIVED.parse(STRUCTURED)
    assert binary.model_dump(exclude={"datacontenttype"}) == structured.model_dump(exclude={"datacontenttype"})
    assert binary.datacontenttype == "application/json"


def test_extension_attributes_of_a_binary_record_are_kept_and_header_names_read_in_any_case() -> None:
    headers = [*binary_headers(), ("ce_traceparent", b"00-ab-cd-01"), ("CE_PartitionKey", b"+8613924681357")]
    event = LEADS_RECEIVED.parse(structured_value(VALUE, headers))  # type: ignore[arg-type]
    assert event.model_extra == {"traceparent": "00-ab-cd-01", "partitionkey": "+8613924681357"}


def test_structured_records_are_left_as_they_are() -> None:
    assert structured_value(STRUCTURED, None) is STRUCTURED
    assert structured_value(STRUCTURED, []) is STRUCTURED
    assert structured_value(STRUCTURED, [("content-type", b"application/cloudevents+json; charset=UTF-8")]) is STRUCTURED
    assert structured_value(STRUCTURED, [("traceparent", b"00-ab-cd-01")]) is STRUCTURED  # no ce_ header
    # a structured record may carry ce_ headers beside its content-type: its value is the event
    both = [("content-type", b"application/CloudEvents+json"), ("ce_id", b"other"), ("ce_tenant-id", b"x")]
    assert structured_value(STRUCTURED, both) is STRUCTURED


def test_binary_mode_without_content_type_is_json_data() -> None:
    event = LEADS_RECEIVED.parse(structured_value(VALUE, binary_headers(**{"content-type": None})))  # type: ignore[arg-type]
    assert event.data.phone == "139 2468 1357"


def test_ce_datacontenttype_alone_or_equal_to_content_type_is_taken() -> None:
    headers = binary_headers(**{"content-type": None, "ce_datacontenttype": "application/json; charset=utf-8"})
    assert LEADS_RECEIVED.parse(structured_value(VALUE, headers)).datacontenttype == "application/json; charset=utf-8"  # type: ignore[arg-type]
    headers = binary_headers(ce_datacontenttype="application/json")
    assert LEADS_RECEIVED.parse(structured_value(VALUE, headers)).datacontenttype == "application/json"  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", ["ce_id", "ce_source", "ce_specversion", "ce_type"])
def test_a_binary_record_without_a_required_attribute_is_refused_naming_it(missing: str) -> None:
    raw = structured_value(VALUE, binary_headers(**{missing: None}))
    with pytest.raises(ValidationError) as refused:
        LEADS_RECEIVED.parse(raw)  # type: ignore[arg-type]
    assert [e["loc"] for e in refused.value.errors()] == [(missing.removeprefix("ce_"),)]


def test_a_binary_record_of_another_spelling_of_the_type_is_accepted() -> None:
    event = LEADS_RECEIVED.parse(structured_value(VALUE, binary_headers(ce_type="leads.received.v1")))  # type: ignore[arg-type]
    assert event.type == "leads.received.v1"


@pytest.mark.parametrize(("headers", "value", "error_type", "says"), [
    (binary_headers(**{"content-type": "text/plain"}), VALUE, "schema_error", "content type is 'text/plain'"),
    (binary_headers(), b"not json", "json_error", "not JSON"),
    (binary_headers(), b'{"a": 1}, "tenantid": "other"', "json_error", "not JSON"),
    ([*binary_headers(), ("ce_id", b"e-2")], VALUE, "schema_error", "'id' is given twice"),
    ([*binary_headers(), ("content-type", b"text/json")], VALUE, "schema_error", "'content-type' is given twice"),
    (binary_headers(ce_datacontenttype="text/json"), VALUE, "schema_error", "datacontenttype is given twice"),
    ([*binary_headers(), ("ce_tenant_id", b"acme")], VALUE, "schema_error", "names no CloudEvents attribute"),
    ([*binary_headers(), ("ce_data", b"{}")], VALUE, "schema_error", "data is the record's value"),
    ([*binary_headers()[:-1], ("ce_source", b"\xff\xfe")], VALUE, "schema_error", "not UTF-8"),
    ([*binary_headers(), ("ce_subject", None)], VALUE, "schema_error", "has no value"),
    ([("content-type", b"application/cloudevents-batch+json")], b"[]", "schema_error", "no batch mode"),
    ([("content-type", b"application/cloudevents+avro")], b"\x00", "schema_error", "JSON event format"),
])
def test_what_the_binding_cannot_read_is_refused_with_the_reason(headers: list, value: bytes, error_type: str,
                                                                 says: str) -> None:
    with pytest.raises(BindingError, match=says) as refused:
        structured_value(value, headers)
    assert refused.value.error_type == error_type


def test_a_binary_record_without_a_value_is_an_event_without_data() -> None:
    with pytest.raises(ValidationError) as refused:
        LEADS_OUTCOME.parse(structured_value(None, binary_headers(ce_type="telesales.leads.outcome.v1")))  # type: ignore[arg-type]
    assert [e["loc"] for e in refused.value.errors()] == [("data",)]


def test_a_value_cannot_smuggle_attributes_into_the_envelope() -> None:
    """The data is decoded and encoded again, never pasted into the envelope's JSON."""
    sneaky = b'{"phone": "13924681357", "tenantid": "other", "id": "x"}'
    event = json.loads(structured_value(sneaky, binary_headers()))  # type: ignore[arg-type]
    assert (event["tenantid"], event["id"]) == ("acme", "e-1")
    assert event["data"] == {"phone": "13924681357", "tenantid": "other", "id": "x"}


def test_records_with_ce_headers_are_told_apart() -> None:
    assert has_attribute_headers(binary_headers())
    assert has_attribute_headers([("CE_ID", b"1")])
    assert not has_attribute_headers([("content-type", b"application/cloudevents+json")])
    assert not has_attribute_headers(None) and not has_attribute_headers(())
