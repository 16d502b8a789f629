"""Consent on leads.received.v1: a closed vocabulary of scopes read tolerantly, a time with its zone, bounds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from telesales_contracts.consent import Consent, ConsentScope, ScopeConsent, read_scope, telemarketing
from telesales_contracts.leads import LeadQualified, LeadReceived, RejectionReason, names_lead_field

GIVEN = "2026-11-01T09:30:00+08:00"


def test_scopes_are_read_in_the_spellings_sources_use() -> None:
    for spelling, scope in (("Telemarketing", "telemarketing"), ("phone-call", "telemarketing"), ("电销", "telemarketing"),
                            ("TEXT_MESSAGE", "sms"), ("短信", "sms"), ("e-mail", "email"), ("Mail", "email")):
        assert read_scope(spelling) == ConsentScope(scope), spelling


@pytest.mark.parametrize("bad", ["fax", "", "telemarketing!!x", 3, None, "whatsapp"])
def test_an_unknown_scope_is_refused_naming_the_known_ones(bad: object) -> None:
    with pytest.raises(ValueError, match="telemarketing, sms, email"):
        read_scope(bad)


def test_a_lead_carries_consent_in_other_spellings_of_its_fields() -> None:
    lead = LeadReceived.model_validate({"phone": "13800138000", "Consent": {
        "Text": "I agree to be called about offers", "consentedAt": GIVEN, "scope": "Phone, sms, SMS",
        "evidenceRef": "rec-17", "unknown": 1}})
    assert lead.consent is not None
    assert lead.consent.scopes == [ConsentScope.TELEMARKETING, ConsentScope.SMS]  # repeats dropped
    assert lead.consent.granted and lead.consent.evidence == "rec-17"
    assert lead.consent.given_at.utcoffset() is not None


@pytest.mark.parametrize("consent", [
    {"statement": "yes", "given_at": "2026-11-01T09:30:00", "scopes": ["sms"]},  # no time zone
    {"statement": "yes", "given_at": "yesterday", "scopes": ["sms"]},
    {"statement": "yes", "given_at": GIVEN, "scopes": []},
    {"statement": "yes", "given_at": GIVEN, "scopes": ["sms"] * 11},
    {"statement": "yes", "given_at": GIVEN, "scopes": ["carrier pigeon"]},
    {"statement": "yes", "given_at": GIVEN, "scopes": ["sms"], "evidence": "x" * 501},
    {"statement": "x" * 2001, "given_at": GIVEN, "scopes": ["sms"]},
    "I agree",
])
def test_a_consent_that_cannot_be_read_refuses_the_lead(consent: object) -> None:
    with pytest.raises(ValidationError):
        LeadReceived.model_validate({"phone": "13800138000", "consent": consent})


def test_consent_is_optional_and_additive() -> None:
    assert LeadReceived.model_validate({"phone": "13800138000"}).consent is None
    assert "consent" in LeadQualified.model_fields and LeadQualified.model_fields["consent"].is_required() is False
    assert RejectionReason.NO_CONSENT.value == "no_consent"
    assert not names_lead_field("consent")  # an object: CSV columns consent_* build it
    withdrawn = Consent.model_validate({"statement": "stop calling", "given_at": GIVEN, "scopes": "calls",
                                        "granted": False})
    assert withdrawn.scopes == [ConsentScope.TELEMARKETING] and withdrawn.granted is False


def test_telemarketing_reads_the_lead_consent() -> None:
    sms = ScopeConsent(scope=ConsentScope.SMS, granted=True, given_at=GIVEN, statement="ok")  # type: ignore[arg-type]
    assert telemarketing([]) is None and telemarketing([sms]) is None
    calls = {"scope": "telemarketing", "granted": False, "given_at": GIVEN, "statement": "no"}
    assert telemarketing([sms.model_dump(), calls]) is False


def test_a_crm_s_yes_no_flags_are_read_as_consent() -> None:
    lead = LeadReceived.model_validate({"phone": "13800138000", "consent": {
        "Call": True, "sms": "no", "e-mail": "是", "given_at": GIVEN, "phone": "+8613800138000"}})
    assert lead.consent is not None and lead.consent.statement is None
    assert {s.value: agreed for s, agreed in lead.consent.decisions().items()} == {
        "telemarketing": True, "email": True, "sms": False}


@pytest.mark.parametrize("consent", [
    {"given_at": GIVEN},  # names no scope
    {"given_at": GIVEN, "phone": "+8613800138000"},  # a number is no flag
    {"given_at": GIVEN, "scopes": "sms", "refused": "sms"},  # grants and refuses the same scope
])
def test_a_consent_saying_nothing_or_both_is_refused(consent: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="consent"):
        LeadReceived.model_validate({"phone": "13800138000", "consent": consent})
