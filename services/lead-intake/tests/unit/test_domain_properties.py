"""Property tests of lead cleaning and scoring (lead_intake.domain)."""

from __future__ import annotations

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import carrier, geocoder

from lead_intake.domain import (
    MODEL_FEATURE_VALUES,
    GradeThresholds,
    OutcomeCounts,
    ScoringWeights,
    fold_text,
    model_features,
    predict_won,
    score_lead,
    standardize,
    standardize_phone,
)
from telesales_contracts.leads import Behaviour, Channel, LeadReceived, NumberType

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

REGIONS = st.sampled_from(["CN", "US", "GB", "HK", "DE", "JP", "ZZ", "cn"])


def text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(max_size=max_size)


# Phones as people type them: digits (half or full width) with separators and an optional prefix.
_DIGITS = st.sampled_from("0123456789０１２３４５６７８９")
_SEPARATORS = st.sampled_from(["", "", "", " ", "-", "\u3000", "."])


@st.composite
def typed_phones(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["cn_mobile", "cn_fixed", "intl", "digits"]))
    if kind == "cn_mobile":
        digits = "1" + draw(st.sampled_from("3456789")) + "".join(draw(st.lists(_DIGITS, min_size=9, max_size=9)))
    elif kind == "cn_fixed":
        digits = draw(st.sampled_from(["010", "020", "021", "0755"])) + "".join(
            draw(st.lists(_DIGITS, min_size=7, max_size=8)))
    elif kind == "intl":
        digits = "+" + draw(st.sampled_from(["1", "44", "49", "81", "852", "86"])) + "".join(
            draw(st.lists(_DIGITS, min_size=6, max_size=11)))
    else:
        digits = "".join(draw(st.lists(_DIGITS, min_size=1, max_size=16)))
    out = []
    for i, ch in enumerate(digits):
        if i and i % 3 == 0:
            out.append(draw(_SEPARATORS))
        out.append(ch)
    prefix = draw(st.sampled_from(["", "", "+86 ", "0086 "])) if kind == "cn_mobile" else ""
    return prefix + "".join(out)


@given(st.text())
@FAST
def test_fold_text_is_idempotent(value: str) -> None:
    once = fold_text(value)
    assert fold_text(once) == once


@given(st.text())
@FAST
def test_fold_text_has_no_outer_or_double_whitespace(value: str) -> None:
    folded = fold_text(value)
    if folded is not None:
        assert folded == folded.strip()
        assert "  " not in folded
        assert "\u3000" not in folded


@given(
    phone=st.none() | text(40) | typed_phones(),
    phone_region=st.none() | st.from_regex(r"\A[A-Za-z]{2}\Z"),
    name=st.none() | text(200),
    email=st.none() | text(254) | st.emails().map(lambda e: e[:254]),
    channel=st.none() | text(100),
    company=st.none() | text(200),
    region=st.none() | text(200),
    default_region=REGIONS,
)
@FAST
def test_standardize_never_raises(phone: str | None, phone_region: str | None, name: str | None,
                                  email: str | None, channel: str | None, company: str | None,
                                  region: str | None, default_region: str) -> None:
    lead = LeadReceived(phone=phone, phone_region=phone_region, name=name, email=email, channel=channel,
                        company=company, region=region)
    cleaned = standardize(lead, default_region)
    assert isinstance(cleaned.channel, Channel)
    assert (cleaned.phone is None) == (fold_text(phone) is None)
    if cleaned.phone is not None:
        assert cleaned.phone.raw == phone
        assert cleaned.phone.valid <= cleaned.phone.possible
        assert cleaned.phone.possible == (cleaned.phone.e164 is not None)
    assert cleaned.dedup_email is None or cleaned.email_valid
    # Scoring must not raise either.
    result = score_lead(cleaned, ScoringWeights())
    assert 0 <= result.score <= 100


@given(raw=typed_phones(), region=REGIONS)
@FAST
def test_valid_phone_e164_reparses_to_itself(raw: str, region: str) -> None:
    info = standardize_phone(raw, region)
    assert info is not None
    if info.valid:
        assert info.e164 is not None and info.e164.startswith("+")
        assert info.e164[1:].isdigit()
        assert info.number_type is not NumberType.UNKNOWN or info.region_code is not None
        for other_region in ("CN", "US"):
            again = standardize_phone(info.e164, other_region)
            assert again is not None
            assert again.e164 == info.e164
            assert again.valid
            assert again.number_type is info.number_type
    else:
        assert info.region is None and info.carrier is None and info.number_type is NumberType.UNKNOWN


@given(
    digits=st.lists(st.sampled_from("0123456789"), min_size=9, max_size=9).map("".join),
    second=st.sampled_from("3456789"),
)
@settings(max_examples=100, deadline=None)
def test_full_width_mobile_equals_half_width(digits: str, second: str) -> None:
    half = f"1{second}{digits}"
    full = half.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    a, b = standardize_phone(half, "CN"), standardize_phone(full, "CN")
    assert a is not None and b is not None
    assert (a.e164, a.valid, a.number_type, a.region, a.carrier) == (b.e164, b.valid, b.number_type, b.region, b.carrier)


_POINTS = st.integers(min_value=0, max_value=100) | st.floats(min_value=0, max_value=100, allow_nan=False)


@st.composite
def weights(draw: st.DrawFn) -> ScoringWeights:
    a, b, c = sorted(draw(st.lists(st.integers(0, 100), min_size=3, max_size=3)), reverse=True)
    return ScoringWeights(
        channel=draw(st.dictionaries(st.sampled_from(list(Channel)), _POINTS)),
        completeness=draw(st.dictionaries(
            st.sampled_from(["name", "email", "company", "product_interest", "region"]), _POINTS)),
        number_type=draw(st.dictionaries(st.sampled_from(list(NumberType)), _POINTS)),
        behaviour=dict(points_per_repeat_login=draw(_POINTS), repeat_logins_cap=draw(_POINTS),
                       long_page_view=draw(_POINTS), unpaid_order=draw(_POINTS),
                       long_page_view_seconds=draw(st.integers(1, 10_000))),
        grades=GradeThresholds(A=a, B=b, C=c),
        model_blend_weight=draw(st.floats(0, 1)),
        model_min_outcomes=draw(st.integers(2, 20)),
        model_min_per_class=draw(st.integers(1, 10)),
    )


feature_dicts = st.fixed_dictionaries({name: st.sampled_from(values) for name, values in MODEL_FEATURE_VALUES.items()})


@st.composite
def outcome_counts(draw: st.DrawFn) -> OutcomeCounts:
    counts = OutcomeCounts()
    for features, outcome in draw(st.lists(st.tuples(feature_dicts, st.sampled_from(["won", "lost"])), max_size=40)):
        counts.add(features, outcome)
    return counts


leads = st.builds(
    LeadReceived,
    name=st.none() | st.sampled_from(["张三", "Li Si"]),
    phone=st.none() | typed_phones() | st.sampled_from(["13924681357", "010-62345678", "abc", "4008001234"]),
    email=st.none() | st.sampled_from(["a@example.com", "broken"]),
    company=st.none() | st.just("某某科技"),
    product_interest=st.none() | st.just("CRM"),
    region=st.none() | st.just("上海"),
    channel=st.none() | st.sampled_from(["400热线", "微信", "抖音", "SEO", "名录", "time", "App"]),
    behaviour=st.none() | st.builds(Behaviour, logins_7d=st.integers(0, 100_000),
                                    page_view_seconds=st.integers(0, 10_000_000), unpaid_order=st.booleans()),
)


@given(lead=leads, w=weights(), counts=st.none() | outcome_counts())
@FAST
def test_score_is_bounded_int_and_grade_follows_thresholds(lead: LeadReceived, w: ScoringWeights,
                                                            counts: OutcomeCounts | None) -> None:
    result = score_lead(standardize(lead, "CN"), w, counts)
    assert type(result.score) is int and type(result.rule_score) is int
    assert 0 <= result.score <= 100 and 0 <= result.rule_score <= 100
    g = w.grades
    expected = "A" if result.score >= g.A else "B" if result.score >= g.B else "C" if result.score >= g.C else "D"
    assert result.grade == expected
    assert result.rule_score == max(0, min(100, round(sum(c["points"] for c in result.breakdown))))
    if result.model is None:
        assert result.score == result.rule_score
    else:
        assert counts is not None and counts.total >= w.model_min_outcomes
        assert 0 <= result.model.probability_won <= 1


@given(counts=outcome_counts(), features=feature_dicts, alpha=st.floats(min_value=0.01, max_value=10))
@FAST
def test_predict_won_is_a_probability(counts: OutcomeCounts, features: dict[str, str], alpha: float) -> None:
    probability, log_odds = predict_won(counts, features, alpha)
    assert 0.0 <= probability <= 1.0
    assert set(log_odds) == set(features)


@given(lead=leads)
@settings(max_examples=100, deadline=None)
def test_model_features_stay_in_the_model_vocabulary(lead: LeadReceived) -> None:
    features = model_features(standardize(lead, "CN"))
    assert set(features) == set(MODEL_FEATURE_VALUES)
    for name, value in features.items():
        assert value in MODEL_FEATURE_VALUES[name]


@given(st.lists(st.tuples(feature_dicts, st.sampled_from(["won", "lost"])), max_size=20))
@settings(max_examples=100, deadline=None)
def test_increments_agree_with_add(outcomes: list[tuple[dict[str, str], str]]) -> None:
    counts = OutcomeCounts()
    flat: dict[str, int] = {}
    for features, outcome in outcomes:
        counts.add(features, outcome)  # type: ignore[arg-type]
        for key, n in OutcomeCounts.increments(features, outcome).items():  # type: ignore[arg-type]
            flat[key] = flat.get(key, 0) + n
    expected = {k: v for k, v in (("won", counts.won), ("lost", counts.lost)) if v}
    for cell, by_outcome in counts.features.items():
        for outcome, n in by_outcome.items():
            expected[f"features.{cell}.{outcome}"] = n
    assert flat == expected


@settings(max_examples=150, deadline=None)
@given(national=st.one_of(st.integers(min_value=13 * 10**9, max_value=2 * 10**10 - 1),  # CN mobile ranges
                          st.integers(min_value=10**7, max_value=10**11 - 1)),
       region=st.sampled_from(["CN", "US", "GB", "HK"]))
def test_fast_phone_path_agrees_with_the_library(national: int, region: str) -> None:
    """standardize_phone computes the number type once; it must say what phonenumbers' own
    is_valid_number, geocoder and carrier look-ups say."""
    raw = str(national)
    info = standardize_phone(raw, region)
    assert info is not None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:  # e.g. CN "12053001": read as a carrier's IDD, then too short
        assert not info.possible and not info.valid
        return
    if not info.possible:
        return
    assert info.valid == phonenumbers.is_valid_number(number)
    if info.valid:
        assert info.region == (geocoder.description_for_number(number, "zh") or None)
        assert info.carrier == (carrier.name_for_number(number, "zh") or None)
