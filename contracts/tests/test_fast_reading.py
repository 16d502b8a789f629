"""The fast decoder of a reading (msgspec structs derived from its pydantic model) against the model itself: on
valid and hostile payloads it gives the same value, or refuses and lets the model decide; it never accepts
what the model refuses. A model it cannot check exactly has no fast decoder, and its reading still parses."""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from telesales_contracts import topics as t
from telesales_contracts.envelope import AwareDatetime
from telesales_contracts.fast_reading import FastDecoder, Unsupported, decoder_of

READINGS: dict[str, t.TopicReading] = {
    "calls": t.CALLS_LOGGED.reading(frozenset({"lead_id", "agent_id", "started_at", "duration_seconds", "connected"})),
    "qualified": t.LEADS_QUALIFIED.reading(frozenset({"lead_id", "business_line", "channel", "touch"})),
    "stage": t.LEADS_STAGE_CHANGED.reading(frozenset({"lead_id", "funnel_step", "agent_id"})),
    "graded": t.AGENTS_GRADED.reading(frozenset({"agent_id", "grade", "team_id"})),
    "outcome": t.LEADS_OUTCOME.reading(frozenset({"lead_id", "outcome", "business_line"})),
    "reviewed": t.MARKETPLACE_TIP_REVIEWED.reading(frozenset({"tip_id", "title", "stage", "version", "price",
                                                             "decision", "reviewed_at"})),
    "calls_no_time": t.CALLS_LOGGED.reading(frozenset({"lead_id", "started_at"}),
                                            frozenset({"id", "type", "tenantid"})),
}
T = "2026-11-24T10:00:00+08:00"
VALID: dict[str, dict[str, Any]] = {
    "calls": {"agent_id": "a-1", "lead_id": "L1", "started_at": T, "duration_seconds": 75, "connected": True},
    "qualified": {"lead_id": "L1", "business_line": "education", "channel": "im",
                  "touch": {"event_id": "e1", "source": "/web", "channel": "im", "channel_raw": None, "received_at": T}},
    "stage": {"lead_id": "L1", "stage_percent": 20, "funnel_step": "valid", "agent_id": None},
    "graded": {"agent_id": "a-1", "grade": "B", "team_id": "mba"},
    "outcome": {"lead_id": "L1", "outcome": "won", "business_line": None},
    "reviewed": {"tip_id": "tip-1", "title": "客户嫌贵怎么办", "stage": "closing", "version": 1, "price": 30,
                 "decision": "approved", "reviewed_at": T},
    "calls_no_time": {"agent_id": "a-1", "lead_id": "L1", "started_at": T, "duration_seconds": 75, "connected": True},
}
TOPIC = {"calls": t.CALLS_LOGGED, "qualified": t.LEADS_QUALIFIED, "stage": t.LEADS_STAGE_CHANGED,
         "graded": t.AGENTS_GRADED, "outcome": t.LEADS_OUTCOME, "reviewed": t.MARKETPLACE_TIP_REVIEWED,
         "calls_no_time": t.CALLS_LOGGED}


def envelope(name: str, data: Any, **attributes: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": "9c2b7e4e-1c1f-4f51-9d55-1f8f6f3d9a10", "source": "/tests",
            "type": TOPIC[name].event_type, "time": T, "tenantid": "acme", "data": data, **attributes}


def plain(value: Any) -> Any:
    """A parsed value as plain data: models and structs as dicts of their fields, times with their offsets."""
    if isinstance(value, BaseModel):
        return {name: plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, msgspec.Struct):
        return {name: plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, datetime):
        return (value, value.utcoffset())
    if isinstance(value, enum.Enum):
        return (type(value), value.value)
    return value


def pydantic_view(reading: t.TopicReading, raw: bytes) -> Any:
    """What the contract (the pydantic model) makes of `raw`: its value, or the refusal."""
    try:
        event = reading.event_model.model_validate_json(raw)
    except ValidationError:
        return "refused"
    return "refused" if not reading.topic.accepts_type(event.type) else plain(event)  # type: ignore[attr-defined]


def without_made_up_id(value: Any, raw: bytes) -> Any:
    """An event without an id or a time gets a new random id and the current time (the envelope's defaults):
    not comparable."""
    try:
        sent = json.loads(raw)
    except ValueError:
        return value
    if isinstance(value, dict) and isinstance(sent, dict):
        return {k: v for k, v in value.items() if k in sent or k not in ("id", "time")}
    return value


def assert_never_more_permissive(reading: t.TopicReading, raw: bytes) -> None:
    decoder = reading.fast_decoder
    assert decoder is not None
    contract = without_made_up_id(pydantic_view(reading, raw), raw)
    try:
        decoded = decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        fast: Any = "stepped aside"
    else:  # the reading takes the fast path only for its own event type
        fast = without_made_up_id(plain(decoded), raw) if reading.topic.accepts_type(decoded.type) \
            else "stepped aside"
    if fast != "stepped aside":
        assert contract == fast, f"the fast decoder accepted {raw!r} as {fast!r}; the contract says {contract!r}"
    # and the reading's own parse (fast path, else the model) always says what the contract says
    try:
        parsed = without_made_up_id(plain(reading.parse(raw)), raw)
    except (ValidationError, t.WrongEventType):
        parsed = "refused"
    assert parsed == contract


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_events_decode_fast_to_what_the_contract_gives(name: str) -> None:
    reading = READINGS[name]
    raw = json.dumps(envelope(name, VALID[name]), ensure_ascii=False).encode()
    decoder = reading.fast_decoder
    assert decoder is not None
    assert plain(decoder.decode(raw)) == pydantic_view(reading, raw) != "refused"


# Values a producer could send in place of a field: near misses of every constraint the contracts use.
HOSTILE: list[Any] = [
    None, True, False, 0, 1, -1, 5, 6, 30, 86_400, 86_401, 1_000_000, 1_000_001, 2**63, 2**64, 1.0, 1.5, "12", "",
    " ", "x", " x", "x ", "x\n", "\tx", "x\u00a0", "\u00a0x", "\u2028x", "x\x1c", "ünï", "客户", "A" * 64, "A" * 65,
    "a" * 200, "a" * 201, "A-b.c:d@e", "-bad", "bad!", "team 1", "acme", "Acme", "acme-", "a" * 63, "a" * 64,
    "2026-11-24T10:00:00+08:00", "2026-11-24T10:00:00Z", "2026-11-24T10:00:00", "2026-11-24 10:00:00+08:00",
    "2026-11-24", "2026-11-24T10:00:00.123456789+08:00", "2026-11-24T24:00:00Z", "2026-11-24t10:00:00z",
    "2026-11-24T10:00:00+08", "2026-13-24T10:00:00Z", "2026-11-24T10:00:00.1234567Z", "2026-11-24T10:00:00.9999999Z",
    "2026-11-24T10:00:00.5+08:00", "2026-11-24T10:00:00,5+08:00", "2026-11-24T10:00Z", "2026-11-24T10:00:00-00:00",
    "2026-11-24T10:00:00+24:00", "2026-11-24T23:59:60Z", "2026-02-29T10:00:00Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z", "2026-11-24T10:00:00Z ", 1_732_414_800, "valid", "VALID", "intent", "im", "IM",
    "closing", "approved", "won", "lost", "B", "b", "F", [], {}, ["x"], {"x": 1},
]
ENVELOPE = ["id", "type", "time", "tenantid", "specversion", "datacontenttype", "source"]


def paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    if isinstance(value, dict):
        for key, inner in value.items():
            out.append((*prefix, key))
            out += paths(inner, (*prefix, key))
    return out


@st.composite
def hostile_events(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(VALID)))
    body = json.loads(json.dumps(envelope(name, VALID[name])))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from([(f,) for f in ENVELOPE] + [("data", *p) for p in paths(body["data"])]))
        target = body
        for key in where[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if draw(st.booleans()) and draw(st.booleans()):
            target.pop(where[-1], None)
        else:
            target[where[-1]] = json.loads(json.dumps(draw(st.sampled_from(HOSTILE))))  # a copy: values nest
    return name, json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_events())
def test_hostile_events_are_never_accepted_beyond_the_contract(event: tuple[str, bytes]) -> None:
    name, raw = event
    assert_never_more_permissive(READINGS[name], raw)


@pytest.mark.parametrize("raw", [
    b"", b"not json", b"[]", b"null", b'{"data": {}}', b"\xff\xfe", b'{"id": "\\ud800"}',
    json.dumps(envelope("calls", VALID["calls"]) | {"id": "\ud83d\ude00 emoji"}).encode(),
    json.dumps(envelope("calls", VALID["calls"]) | {"id": " padded "}).encode(),
    json.dumps(envelope("calls", VALID["calls"]) | {"tenantid": "acme\n"}).encode(),
    json.dumps(envelope("calls", {**VALID["calls"], "agent_id": "a-1\n"})).encode(),
    json.dumps(envelope("calls", VALID["calls"]) | {"type": t.LEADS_QUALIFIED.event_type}).encode(),
])
def test_broken_payloads_get_the_contracts_answer(raw: bytes) -> None:
    assert_never_more_permissive(READINGS["calls"], raw)


@pytest.mark.parametrize("missing", ["id", "source", "specversion", "type"])
def test_a_reading_refuses_an_event_without_a_required_attribute_on_either_path(missing: str) -> None:
    body = envelope("calls", VALID["calls"])
    del body[missing]
    raw = json.dumps(body).encode()
    assert READINGS["calls"].parse_fast(raw) is None
    with pytest.raises(ValidationError) as refused:
        READINGS["calls"].parse(raw)
    assert [e["loc"] for e in refused.value.errors()] == [(missing,)]


def test_a_reading_takes_another_spelling_of_its_type_on_the_fast_path() -> None:
    raw = json.dumps(envelope("calls", VALID["calls"]) | {"type": "CallsLogged"}).encode()
    assert READINGS["calls"].parse_fast(raw).type == "CallsLogged"
    with pytest.raises(t.WrongEventType, match="'leads.qualified.v1'.*'telesales.calls.logged.v1'"):
        READINGS["calls"].parse(json.dumps(envelope("calls", VALID["calls"]) | {"type": "leads.qualified.v1"}))


def test_a_stripped_id_is_stripped_as_the_contract_strips_it() -> None:
    raw = json.dumps(envelope("calls", VALID["calls"]) | {"id": "  e-1  "}).encode()
    assert READINGS["calls"].parse(raw).id == "e-1"


class Colour(enum.StrEnum):
    RED = "red"


class Supported(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Annotated[str, StringConstraints(min_length=1, max_length=5, pattern=r"^[a-z]+$")]
    size: int = Field(default=3, ge=1, lt=10)
    ratio: float | None = None
    colour: Colour = Colour.RED
    kind: Literal["a", "b"] = "a"
    at: AwareDatetime | None = None


class WithValidator(BaseModel):
    x: int

    @field_validator("x")
    @classmethod
    def _positive(cls, value: int) -> int:
        return abs(value)


class Forbidding(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: int


class WithList(BaseModel):
    xs: list[int]


class WithUnion(BaseModel):
    x: int | str


class WithAlias(BaseModel):
    x: int = Field(alias="y")


class WithUpper(BaseModel):
    x: Annotated[str, StringConstraints(to_upper=True)]


def test_the_supported_constraints_are_checked() -> None:
    decoder = FastDecoder(Supported)
    assert decoder.decode(b'{"name": "abc", "size": 9, "colour": "red", "kind": "b"}').size == 9
    for bad in (b'{"name": "ABC"}', b'{"name": "abcdef"}', b'{"name": "abc\\n"}', b'{"name": "a", "size": 10}',
                b'{"name": "a", "colour": "blue"}', b'{"name": "a", "kind": "c"}',
                b'{"name": "a", "at": "2026-11-24T10:00:00"}', b'{"size": 1}'):
        with pytest.raises(msgspec.ValidationError):
            decoder.decode(bad)


@pytest.mark.parametrize("model", [WithValidator, Forbidding, WithList, WithUnion, WithAlias, WithUpper])
def test_what_cannot_be_checked_exactly_has_no_fast_decoder(model: type[BaseModel]) -> None:
    with pytest.raises(Unsupported):
        decoder_of(model)


def test_a_reading_without_a_fast_decoder_still_parses() -> None:
    reading = t.LEADS_QUALIFIED.reading(frozenset({"lead_id", "score_breakdown"}))  # a list of models
    assert reading.fast_decoder is None
    data = {"lead_id": "L1", "score_breakdown": [{"feature": "channel", "value": "im", "points": 10}]}
    event = reading.parse(json.dumps(envelope("qualified", data)).encode())
    assert event.data.lead_id == "L1"
