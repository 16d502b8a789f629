"""Properties of the keys lead-intake de-duplicates on and of the junk rules (domain.py): one person typed
in different ways is one key, and hostile text never breaks standardization."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lead_intake.domain import (
    NumberCheckResult,
    fold_text,
    is_test_number,
    junk_reasons,
    normalize_email,
    standardize,
    standardize_phone,
)
from telesales_contracts.leads import LeadReceived, RejectionReason

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")

# numbers of real CN mobile ranges (the third digit keeps them out of unassigned blocks)
cn_mobiles = st.tuples(st.sampled_from(["135", "136", "138", "139", "150", "186", "188"]),
                       st.text(alphabet="0123456789", min_size=8, max_size=8)).map("".join)


@st.composite
def typings(draw: st.DrawFn, national: str) -> str:
    """`national` as someone might type it: a country prefix or none, separators, full-width digits,
    blanks around it."""
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "0086", "+86-"]))
    separator = draw(st.sampled_from(["", " ", "-", "\u3000"]))
    body = separator.join([national[:3], national[3:7], national[7:]])
    typed = prefix + body
    if draw(st.booleans()):
        typed = typed.translate(FULL_WIDTH)
    return draw(st.sampled_from(["", " ", "\t", "\u3000"])) + typed + draw(st.sampled_from(["", " ", "\n"]))


@given(cn_mobiles, st.data())
@FAST
def test_one_mobile_typed_two_ways_has_one_dedup_key(national: str, data: st.DataObject) -> None:
    first, second = data.draw(typings(national)), data.draw(typings(national))
    a, b = standardize_phone(first, "CN"), standardize_phone(second, "CN")
    assert a is not None and b is not None
    assert a.e164 == b.e164 == f"+86{national}"
    assert a.valid == b.valid


@given(st.from_regex(r"[a-z0-9._]{1,12}@[a-z0-9]{1,10}\.(com|cn|net)", fullmatch=True), st.data())
@FAST
def test_one_email_in_any_case_or_width_has_one_dedup_key(email: str, data: st.DataObject) -> None:
    variant = "".join(c.upper() if data.draw(st.booleans()) else c for c in email)
    if data.draw(st.booleans()):  # full-width letters and digits (NFKC folds them)
        variant = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in variant)
    variant = data.draw(st.sampled_from(["", " "])) + variant + data.draw(st.sampled_from(["", "\u3000"]))
    assert normalize_email(email) == normalize_email(variant) == (email, True)


@given(st.text(max_size=200))
@FAST
def test_email_normalization_is_idempotent(raw: str) -> None:
    folded, valid = normalize_email(raw)
    assert normalize_email(folded) == (folded, valid or folded is None)


@given(st.text(alphabet="0123456789", min_size=1, max_size=1), st.sampled_from(["+86138", "+86139", "+1415"]))
def test_eight_repeated_subscriber_digits_are_a_test_number(digit: str, prefix: str) -> None:
    assert is_test_number(prefix + digit * 8)


# text an attacker or a broken form sends: controls, NUL, bidi overrides, zero-width characters,
# combining marks, full-width forms, lone surrogates, very long strings
HOSTILE = st.text(alphabet=st.one_of(
    st.sampled_from(["\x00", "\x07", "\u202e", "\u202d", "\u2066", "\u200b", "\u200d", "\ufeff", "\u0301", "\u0338",
                     "\ud800", "\udfff", "１", "３", "８", "＋", "　", "\u00a0", "\U0001f600", "张", "e"]),
    st.characters(codec="utf-8")), max_size=60)


@given(name=HOSTILE | st.text(min_size=10_000, max_size=10_050, alphabet="张三a\u0301"),
       phone=st.none() | HOSTILE | cn_mobiles.map(lambda n: "\u202e" + n + "\u200b"),
       email=st.none() | HOSTILE, company=st.none() | HOSTILE)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_hostile_text_never_breaks_standardization(name: str, phone: str | None, email: str | None,
                                                   company: str | None) -> None:
    lead = LeadReceived.model_construct(name=name, phone=phone, email=email, company=company, phone_region=None,
                                        channel=None, business_line="mba", product_interest=None, region=None,
                                        notes=None, attributes={}, behaviour=None)
    clean = standardize(lead, "CN")
    assert clean.name == fold_text(name)
    if clean.phone is not None and clean.phone.valid:
        assert clean.dedup_phone is not None and clean.dedup_phone[1:].isdigit()
    reasons = junk_reasons(clean, on_do_not_call=False, check=None)
    assert all(r.message for r in reasons)


@given(cn_mobiles, st.none() | st.sampled_from(["not-an-email", "a@b.co", "x@"]), st.booleans())
@FAST
def test_a_valid_phone_is_never_junk_for_its_email_alone(national: str, email: str | None, on_dnc: bool) -> None:
    lead = LeadReceived.model_construct(name=None, phone=national, email=email, company=None, phone_region="CN",
                                        channel=None, business_line="mba", product_interest=None, region=None,
                                        notes=None, attributes={}, behaviour=None)
    clean = standardize(lead, "CN")
    assert clean.phone is not None and clean.phone.valid
    check = NumberCheckResult("offline", "ok")
    reasons = {r.code for r in junk_reasons(clean, on_do_not_call=on_dnc, check=check)}
    assert RejectionReason.NO_CONTACT not in reasons
    # a bad email is listed beside another reason, never alone
    assert reasons == set() or reasons - {RejectionReason.INVALID_EMAIL}
    assert (RejectionReason.DO_NOT_CALL in reasons) == on_dnc
    if not on_dnc and not is_test_number(clean.phone.e164 or ""):
        assert reasons == set()
