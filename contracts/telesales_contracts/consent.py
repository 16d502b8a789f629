"""Consent: what a person agreed to be contacted by, as the source of the lead states it.

A lead may come with a consent statement (`leads.received.v1` `consent`): the source's wording, when it was
given, its scopes (a closed vocabulary, read tolerantly: "Telemarketing", "phone-call", "短信" ...) and
optionally a reference to the evidence (a recording, a signed form). `granted: false` withdraws the scopes
named. lead-intake keeps the latest statement per scope on the lead (`ScopeConsent`, by `given_at`; scopes a
statement does not name stay as they were) and tells the allocator when a lead's consent changes
(`leads.consent-changed.v1`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from . import tolerant
from .envelope import AwareDatetime


class ConsentScope(StrEnum):
    """What a person may be contacted by."""

    TELEMARKETING = "telemarketing"  # sales calls: what the pools are worked for
    SMS = "sms"
    EMAIL = "email"


# Other names of each scope (case and separators aside), as sources write them.
SCOPE_NAMES: dict[ConsentScope, tuple[str, ...]] = {
    ConsentScope.TELEMARKETING: ("telemarketing", "tele_marketing", "telesales", "phone", "phone_call",
                                 "phone_calls", "call", "calls", "voice", "telephone", "电话", "电销", "电话营销"),
    ConsentScope.SMS: ("sms", "text", "texts", "text_message", "text_messages", "短信"),
    ConsentScope.EMAIL: ("email", "e_mail", "mail", "邮件", "电子邮件"),
}
_SCOPE_BY_KEY: dict[str, ConsentScope] = {
    tolerant.name_key(name) or name: scope for scope, names in SCOPE_NAMES.items() for name in names}
MAX_SCOPES = 10


def read_scope(value: Any) -> ConsentScope:
    """A scope in any of its spellings (SCOPE_NAMES); anything else is refused, naming the known scopes."""
    if isinstance(value, ConsentScope):
        return value
    if isinstance(value, str):
        text = value.strip()
        scope = _SCOPE_BY_KEY.get(tolerant.name_key(text) or text)
        if scope is not None:
            return scope
    known = ", ".join(scope.value for scope in ConsentScope)
    raise ValueError(f"consent scope {str(value)[:60]!r} is not one of {known} (or another spelling of them)")


def _read_scopes(value: Any) -> Any:
    """One scope, a comma-separated text of them or a list; each read by read_scope, repeats dropped."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        return value  # the model refuses it, saying what it expected
    if len(value) > MAX_SCOPES:
        raise ValueError(f"a consent names at most {MAX_SCOPES} scopes")
    return list(dict.fromkeys(read_scope(each) for each in value))


Scopes = Annotated[list[ConsentScope], BeforeValidator(_read_scopes), Field(max_length=MAX_SCOPES)]
Statement = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
Evidence = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
_YES = {"true", "yes", "y", "1", "是", "同意"}
_NO = {"false", "no", "n", "0", "否", "不同意"}


def _flag(value: Any) -> bool | None:
    """A yes/no flag as sources write it, else None (then the key is no flag)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    return None


def _read_flags(data: Any) -> Any:
    """Scope names used as yes/no flags (`{"call": true, "sms": false}`, as CRMs send consent) become `scopes`
    (the yes) and `refused` (the no), added to those the data names itself."""
    if not isinstance(data, dict):
        return data
    rest, said = {}, {}
    for key, value in data.items():
        scope = _SCOPE_BY_KEY.get(tolerant.name_key(key) or key) if isinstance(key, str) else None
        flag = _flag(value) if scope is not None else None
        if flag is None:
            rest[key] = value
        else:
            said[scope.value] = flag  # type: ignore[union-attr]
    if not said:
        return data
    yes, no = [s for s, flag in said.items() if flag], [s for s, flag in said.items() if not flag]
    return {**rest, "scopes": [*_as_list(rest.get("scopes")), *yes], "refused": [*_as_list(rest.get("refused")), *no]}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [part for part in value.split(",") if part.strip()] if isinstance(value, str) else list(value)


class Consent(BaseModel):
    """A consent statement as the source of a lead gives it (on leads.received.v1): the scopes it names (granted,
    or withdrawn with `granted: false`) and the scopes it refuses. Scope names may also be given as yes/no flags
    (`{"call": true, "sms": false, "given_at": ...}`, as CRMs send it)."""

    model_config = ConfigDict(extra="ignore")

    statement: Statement | None = Field(default=None, description="The source's statement of what the person "
                                        "agreed to (or withdrew), as worded to them, e.g. the form's checkbox text; "
                                        "absent when the source sends flags only.")
    given_at: AwareDatetime = Field(description="When the person gave (or withdrew) it, with a time zone. A time "
                                                "after the lead's arrival is not believed: the consent is not kept.")
    scopes: Scopes = Field(default_factory=list, description="What it covers: telemarketing, sms, email (a list, or "
                           "one text with commas; other spellings such as phone_call, text_message, e-mail are read "
                           "too).")
    granted: bool = Field(default=True, description="false: the person withdrew the `scopes` named.")
    refused: Scopes = Field(default_factory=list, description="Scopes the person refused or withdrew (with "
                                                              "`scopes` they agreed to, in one statement).")
    evidence: Evidence | None = Field(default=None, description="A reference to the proof: a recording's id, a "
                                                                "signed form's URL, a CRM record.")

    @model_validator(mode="before")
    @classmethod
    def _read_tolerantly(cls, data: Any) -> Any:
        return tolerant.read(_read_flags(data), CONSENT_NAMES, within="consent")

    @model_validator(mode="after")
    def _says_something(self) -> Consent:
        if not self.scopes and not self.refused:
            raise ValueError("a consent names its scopes (telemarketing, sms, email), or gives them as yes/no flags")
        both = set(self.scopes) & set(self.refused) if self.granted else set()
        if both:
            raise ValueError(f"a consent both grants and refuses {', '.join(sorted(both))}")
        return self

    def decisions(self) -> dict[ConsentScope, bool]:
        """Each scope it names: True (agreed), False (refused or withdrawn)."""
        return {**{scope: self.granted for scope in self.scopes}, **{scope: False for scope in self.refused}}


class ScopeConsent(BaseModel):
    """The latest statement a lead has for one scope (the lead's consent is one per scope it has heard of)."""

    model_config = ConfigDict(extra="ignore")

    scope: ConsentScope
    granted: bool = Field(description="true: the person agreed; false: withdrew (or refused).")
    given_at: datetime
    statement: str | None = None
    evidence: str | None = None
    source: str | None = Field(default=None, description="The system that stated it (the lead's producing system).")
    event_id: str | None = Field(default=None, description="The leads.received.v1 event that carried it.")


class LeadConsentChanged(BaseModel):
    """A known lead's consent changed (a later arrival granted or withdrew a scope): its whole consent now.
    A withdrawn telemarketing scope means the lead must not be called: the allocator closes it for good."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    consent: list[ScopeConsent] = Field(description="The lead's consent after the change, one per scope.")
    granted: list[ConsentScope] = Field(default_factory=list, description="Scopes this change granted.")
    withdrawn: list[ConsentScope] = Field(default_factory=list, description="Scopes this change withdrew.")
    changed_at: datetime = Field(description="When the arrival that changed it happened (its event time): the "
                                             "allocator keeps a later change over an earlier one.")


CONSENT_NAMES = tolerant.register(Consent, tolerant.Vocabulary(
    frozenset(Consent.model_fields),
    {"statement": ("text", "wording", "consent_text"), "given_at": ("consented_at", "consent_time", "time", "at"),
     "scopes": ("scope", "purposes", "channels"), "refused": ("withdrawn", "declined", "opted_out"),
     "evidence": ("evidence_ref", "proof", "reference")}))


def telemarketing(consent: list[ScopeConsent] | list[dict[str, Any]]) -> bool | None:
    """Whether the lead's consent allows sales calls: True (granted), False (withdrawn), None (never stated)."""
    for each in consent:
        scope = each.scope if isinstance(each, ScopeConsent) else each.get("scope")
        if scope == ConsentScope.TELEMARKETING:
            return each.granted if isinstance(each, ScopeConsent) else bool(each.get("granted"))
    return None
