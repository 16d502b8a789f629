"""The tolerant reader of leads.received.v1 and leads.outcome.v1: fields the contract does not name are kept
under their own names within bounds, names in another spelling are the contract's, the outside system's lead
id is read whatever it is called, and what cannot be read is refused saying why."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from telesales_contracts.leads import EXTERNAL_ID_NAMES, LeadOutcome, LeadReceived
from telesales_contracts.tolerant import MAX_EXTRA_BYTES, MAX_EXTRA_DEPTH, MAX_EXTRA_FIELDS, MAX_EXTRA_NAME, name_key
from telesales_contracts.topics import LEADS_OUTCOME, LEADS_RECEIVED


def lead(**data: object) -> LeadReceived:
    return LeadReceived.model_validate({"phone": "13924681357", **data})


def refusal(model: type, data: dict) -> str:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(data)
    return str(refused.value)


# ---- names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "key"), [("sourceLeadId", "source_lead_id"), ("Source-Lead ID", "source_lead_id"),
                                           ("SOURCE_LEAD_ID", "source_lead_id"), ("CRMId", "crm_id"),
                                           ("logins7d", "logins_7_d"), ("businessLine", "business_line")])
def test_a_name_without_its_case_and_separators(name: str, key: str) -> None:
    assert name_key(name) == key


def test_the_contracts_fields_in_another_spelling_are_those_fields() -> None:
    received = LeadReceived.model_validate({"Phone": "13924681357", "E-Mail": "x@example.cn", "BusinessLine": "mba",
                                            "Behaviour": {"LOGINS_7D": 3, "unpaidOrder": True}})
    assert (received.phone, received.business_line) == ("13924681357", "mba")
    assert (received.behaviour.logins_7d, received.behaviour.unpaid_order) == (3, True)  # type: ignore[union-attr]
    assert received.email is None and received.model_extra == {"E-Mail": "x@example.cn"}  # e_mail is no field


def test_a_field_given_twice_in_two_spellings_with_different_values_is_refused() -> None:
    assert "phone is given twice with different values, as 'phone' and 'Phone'" in refusal(
        LeadReceived, {"phone": "13924681357", "Phone": "18604312468"})
    assert lead(Phone="13924681357").phone == "13924681357"  # the same value twice is no conflict


# ---- the outside system's own lead id -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["external_id", *EXTERNAL_ID_NAMES, "lead_id", "CRM-ID", "crmId", "SourceLeadID",
                                  "External Lead Id"])
def test_the_outside_systems_lead_id_is_read_whatever_it_is_called(name: str) -> None:
    received = lead(**{name: " CRM-4711 "})
    assert received.external_id == "CRM-4711" and received.model_extra == {}


def test_the_first_name_with_a_value_is_the_id_and_the_others_stay_extra_fields() -> None:
    received = lead(crm_id="C-1", external_id="E-1", lead_id="W-1")
    assert received.external_id == "E-1" and received.model_extra == {"crm_id": "C-1", "lead_id": "W-1"}
    received = lead(crm_id="C-1", source_lead_id="S-1", ext_id="")
    assert received.external_id == "S-1" and received.model_extra == {"crm_id": "C-1", "ext_id": ""}
    assert lead(external_id="  ", crm_id="C-1").external_id == "C-1"  # a blank id is none
    assert lead(external_id="").external_id is None


def test_a_whole_number_id_is_text_and_other_values_are_refused() -> None:
    assert lead(crm_id=4711).external_id == "4711"
    for bad in (47.11, True, ["a"], {"id": 1}, "x" * 201):
        assert "external_id" in refusal(LeadReceived, {"phone": "1", "crm_id": bad})


def test_the_producing_system_may_be_named_in_the_data() -> None:
    assert lead(source_system=" crm.acme ").source_system == "crm.acme"
    assert lead(ExternalSystem="crm.acme").source_system == "crm.acme"
    assert lead().source_system is None  # then the event's source names it (lead-intake)


def test_lead_id_names_the_platforms_lead_on_an_outcome_not_the_outside_one() -> None:
    outcome = LeadOutcome.model_validate({"lead_id": "L-1", "crm_id": 7, "Outcome": "won", "reason": "price"})
    assert (outcome.lead_id, outcome.external_id, outcome.outcome) == ("L-1", "7", "won")
    assert outcome.model_extra == {"reason": "price"}
    assert LeadOutcome.model_validate({"ExternalID": "C-1", "outcome": "lost"}).lead_id is None
    assert "an outcome names its lead" in refusal(LeadOutcome, {"outcome": "won", "note": "no lead named"})


# ---- extra fields and their bounds ----------------------------------------------------------------------


def test_extra_fields_are_kept_under_their_own_names_and_written_back_as_they_came() -> None:
    data = {"phone": "13924681357", "utm_source": "baidu", "score": 99, "tags": ["vip", {"since": 2019}],
            "behaviour": {"logins_7d": 2, "clicks": 5}, "extra": "a field named extra is just a field"}
    received = LeadReceived.model_validate(data)
    assert received.extra_fields() == {"utm_source": "baidu", "score": 99, "tags": ["vip", {"since": 2019}],
                                       "extra": "a field named extra is just a field", "behaviour": {"clicks": 5}}
    again = LeadReceived.model_validate_json(received.model_dump_json())
    assert again == received and again.extra_fields() == received.extra_fields()


def test_as_many_extra_fields_as_the_bound_are_kept_one_more_is_refused() -> None:
    fields = {f"f{n}": n for n in range(MAX_EXTRA_FIELDS)}
    assert len(lead(**fields).model_extra or {}) == MAX_EXTRA_FIELDS
    assert f"carries {MAX_EXTRA_FIELDS + 1} fields the contract does not name; at most {MAX_EXTRA_FIELDS}" in refusal(
        LeadReceived, {"phone": "1", **fields, "one_more": 1})


@pytest.mark.parametrize(("extra", "says"), [
    ({"x" * (MAX_EXTRA_NAME + 1): 1}, f"a name has 1 to {MAX_EXTRA_NAME} characters"),
    ({"": 1}, "a name has 1 to"),
    ({"$where": "1"}, "may not start with '$'"),
    ({"utm.source": "baidu"}, "hold '.'"),
    ({"a\x00b": 1}, "control characters"),
    ({"ok": {"$gt": ""}}, "'ok/$gt'"),
    ({"ok": [{"a.b": 1}]}, "'ok/0/a.b'"),
    ({"deep": json.loads("[" * (MAX_EXTRA_DEPTH + 1) + "]" * (MAX_EXTRA_DEPTH + 1))}, "nested more than"),
    ({"big": 2**63}, "beyond 64 bits"),
    ({"small": -(2**63) - 1}, "beyond 64 bits"),
    ({"nan": float("nan")}, "not a finite number"),
    ({"blob": "x" * MAX_EXTRA_BYTES}, f"at most {MAX_EXTRA_BYTES} are kept"),
])
def test_an_extra_field_beyond_a_bound_is_refused_naming_the_bound(extra: dict, says: str) -> None:
    assert says in refusal(LeadReceived, {"phone": "1", **extra})


def test_values_at_the_bounds_are_kept() -> None:
    deep = json.loads("[" * MAX_EXTRA_DEPTH + "]" * MAX_EXTRA_DEPTH)
    received = lead(deep=deep, big=2**63 - 1, small=-(2**63), **{"x" * MAX_EXTRA_NAME: "名字"})
    assert received.model_extra["deep"] == deep  # type: ignore[index]


def test_nested_extra_fields_of_behaviour_are_bounded_too() -> None:
    assert "'$x'" in refusal(LeadReceived, {"phone": "1", "behaviour": {"$x": 1}})


def test_outcome_extra_fields_are_bounded() -> None:
    assert "hold '.'" in refusal(LeadOutcome, {"lead_id": "L-1", "outcome": "won", "a.b": 1})


def test_a_known_field_whose_value_cannot_be_read_is_still_refused() -> None:
    assert "phone" in refusal(LeadReceived, {"phone": 13924681357, "utm": "x"})
    assert "behaviour.logins_7d" in refusal(LeadReceived, {"phone": "1", "behaviour": {"Logins7d": "many"}})


# ---- through the topics -----------------------------------------------------------------------------------


def event(topic: str, data: dict) -> bytes:
    return json.dumps({"specversion": "1.0", "id": "e-1", "source": "/crm/acme", "type": topic, "tenantid": "acme",
                       "data": data}).encode()


def test_a_received_event_with_extra_fields_and_an_outside_id_parses() -> None:
    parsed = LEADS_RECEIVED.parse(event("leads.received.v1", {"Phone": "13924681357", "crm_id": 4711,
                                                              "campaign": {"name": "双11", "budget": 2000}}))
    assert parsed.data.external_id == "4711"
    assert parsed.data.extra_fields() == {"campaign": {"name": "双11", "budget": 2000}}


def test_a_reading_takes_a_read_field_in_another_spelling_as_the_contract_does() -> None:
    reading = LEADS_OUTCOME.reading(frozenset({"lead_id", "outcome", "business_line"}))
    raw = event("leads.outcome.v1", {"LeadId": "L-1", "Outcome": "won"})
    assert reading.parse_fast(raw) is None  # the fast path reads exact names only ...
    assert (reading.parse(raw).data.lead_id, reading.parse(raw).data.outcome) == ("L-1", "won")  # ... the model all
    exact = event("leads.outcome.v1", {"lead_id": "L-1", "outcome": "won", "Outcome": "lost"})
    assert reading.parse_fast(exact).data.outcome == reading.event_model.model_validate_json(exact).data.outcome == "won"
    with pytest.raises(ValidationError, match="given twice"):  # the whole contract refuses the shadowing spelling
        LEADS_OUTCOME.parse(exact)


def test_flat_columns_the_received_contract_reads() -> None:
    from telesales_contracts.leads import names_lead_field
    assert all(names_lead_field(name) for name in ("phone", "Phone", "business-line", "CRM-ID", "lead_id",
                                                   "source_system", "ExternalSystem"))
    assert not any(names_lead_field(name) for name in ("behaviour", "Attributes", "utm_source", "E-Mail", ""))


# ---- the fast path of data spelled as the contract spells it ---------------------------------------------


@pytest.mark.parametrize("data", [
    {"phone": "139 2468 1357", "name": "王伟", "email": "a@qq.com", "business_line": "education"},
    {"phone": "13924681357", "external_id": "  ", "source_system": None, "notes": ""},  # blank aliased fields
    {"phone": "13924681357", "external_id": "crm-7", "behaviour": {"logins_7d": 3, "unpaid_order": True}},
    {"phone": "13924681357", "behaviour": {"logins_7d": 3, "Page-View Seconds": 20, "wechat": "x"}},  # nested spellings
    {"phone": "13924681357", "behaviour": "not an object", "attributes": {"utm_source": "baidu"}},
    {},
])
@pytest.mark.parametrize("whole", [True, False])
def test_exact_names_read_as_the_full_reader_reads_them(data: dict, whole: bool) -> None:
    from telesales_contracts.leads import RECEIVED_NAMES
    from telesales_contracts.tolerant import _read_spellings, read

    assert all(key in RECEIVED_NAMES.fields for key in data)
    fast = read(json.loads(json.dumps(data)), RECEIVED_NAMES, whole=whole)
    full = _read_spellings(json.loads(json.dumps(data)), RECEIVED_NAMES, within="data", whole=whole)
    assert fast == full
    assert list(fast) == list(full)
