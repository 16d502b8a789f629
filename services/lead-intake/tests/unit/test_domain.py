"""Unit tests of lead cleaning and scoring (lead_intake.domain): pure functions, no I/O."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from lead_intake.domain import (
    DEFAULT_TEST_NUMBERS,
    MODEL_FEATURE_VALUES,
    CleanLead,
    GradeThresholds,
    NumberCheckResult,
    OutcomeCounts,
    PhoneInfo,
    ScoringWeights,
    fold_text,
    is_test_number,
    junk_reasons,
    map_channel,
    model_features,
    normalize_email,
    offline_number_check,
    predict_won,
    rule_contributions,
    score_lead,
    standardize,
    standardize_phone,
)
from telesales_contracts.leads import Behaviour, Channel, LeadReceived, NumberType, RejectionReason

REGION = "CN"


def clean(**fields: object) -> CleanLead:
    return standardize(LeadReceived(**fields), REGION)


def codes(lead: CleanLead, *, on_do_not_call: bool = False, check: NumberCheckResult | None = None,
          test_numbers: frozenset[str] = frozenset()) -> list[RejectionReason]:
    return [r.code for r in junk_reasons(lead, on_do_not_call=on_do_not_call, check=check, test_numbers=test_numbers)]


# --------------------------------------------------------------------------------------------------
# fold_text / names


class TestFoldText:
    def test_full_width_letters_and_digits_are_folded(self) -> None:
        assert fold_text("ＡＢＣ　Ｃｏｍｐａｎｙ １２３") == "ABC Company 123"

    def test_whitespace_is_trimmed_and_collapsed(self) -> None:
        assert fold_text("  张   三 \t\n ") == "张 三"

    def test_ideographic_space_counts_as_whitespace(self) -> None:
        assert fold_text("\u3000李\u3000\u3000四\u3000") == "李 四"

    def test_full_width_punctuation_is_folded(self) -> None:
        assert fold_text("（北京）科技有限公司！") == "(北京)科技有限公司!"

    @pytest.mark.parametrize("value", [None, "", "   ", "\u3000\t\n"])
    def test_empty_is_none(self, value: str | None) -> None:
        assert fold_text(value) is None

    def test_chinese_text_is_kept(self) -> None:
        assert fold_text("王小明") == "王小明"

    def test_standardize_folds_the_name_company_and_hints(self) -> None:
        lead = clean(name="  Ｗａｎｇ　　Ｘｉａｏ  ", company=" 深圳　某某  科技 ", region="  广东 ",
                     product_interest="ＣＲＭ  系统", phone="13924681357")
        assert lead.name == "Wang Xiao"
        assert lead.company == "深圳 某某 科技"
        assert lead.region_hint == "广东"
        assert lead.product_interest == "CRM 系统"

    def test_standardize_keeps_notes_exactly(self) -> None:
        notes = "  Ｆｕｌｌ  width\n kept  "
        assert clean(phone="13924681357", notes=notes).notes == notes

    def test_standardize_blank_business_line_becomes_default(self) -> None:
        assert clean(phone="13924681357", business_line="   ").business_line == "default"
        assert clean(phone="13924681357", business_line=" ｅｄｕ ").business_line == "edu"


# --------------------------------------------------------------------------------------------------
# Email


class TestNormalizeEmail:
    def test_lowercased_and_trimmed(self) -> None:
        assert normalize_email("  Zhang.San@Example.COM ") == ("zhang.san@example.com", True)

    def test_full_width_at_sign_is_folded(self) -> None:
        assert normalize_email("ｌｉ＠ｅｘａｍｐｌｅ．ｃｎ") == ("li@example.cn", True)

    @pytest.mark.parametrize("value", [None, "", "   "])
    def test_missing_is_valid_none(self, value: str | None) -> None:
        assert normalize_email(value) == (None, True)

    @pytest.mark.parametrize("value, folded", [
        ("not-an-email", "not-an-email"),
        ("a@b", "a@b"),
        ("a@@b.com", "a@@b.com"),
        ("A B@c.com", "a b@c.com"),
        ("a@b.c", "a@b.c"),
        ("@example.com", "@example.com"),
    ])
    def test_malformed_is_returned_folded_but_invalid(self, value: str, folded: str) -> None:
        assert normalize_email(value) == (folded, False)


# --------------------------------------------------------------------------------------------------
# Channel


class TestMapChannel:
    @pytest.mark.parametrize("raw, channel", [
        # English, any case
        ("search", Channel.SEARCH_ADS_SEO),
        ("SEO", Channel.SEARCH_ADS_SEO),
        ("Baidu SEM", Channel.SEARCH_ADS_SEO),
        ("Google Ads", Channel.SEARCH_ADS_SEO),
        ("WeChat", Channel.IM),
        ("WhatsApp", Channel.IM),  # "whatsapp" wins over "app"
        ("IM", Channel.IM),
        ("hotline", Channel.INBOUND_CALL),
        ("TikTok", Channel.SOCIAL_MEDIA),
        ("TV", Channel.OFFLINE_MEDIA),
        ("App", Channel.APP_EVENT),
        ("1688", Channel.B2B_SITE),
        ("BBS", Channel.FORUM),
        ("crawl", Channel.DIRECTORY_CRAWL),
        # Chinese
        ("百度竞价", Channel.SEARCH_ADS_SEO),
        ("微信", Channel.IM),
        ("企业微信", Channel.IM),
        ("400热线", Channel.INBOUND_CALL),
        ("抖音", Channel.SOCIAL_MEDIA),
        ("小红书", Channel.SOCIAL_MEDIA),
        ("贴吧", Channel.FORUM),
        ("展会", Channel.OFFLINE_MEDIA),
        ("企业名录", Channel.DIRECTORY_CRAWL),
        ("小程序", Channel.APP_EVENT),
        ("阿里巴巴", Channel.B2B_SITE),
        ("汽车之家", Channel.VERTICAL_SITE),
        # mixed Latin and Chinese: Chinese characters separate words
        ("QQ群", Channel.IM),
        ("IM咨询", Channel.IM),
        ("58同城", Channel.VERTICAL_SITE),
        ("APP下载", Channel.APP_EVENT),
        ("TV广告", Channel.OFFLINE_MEDIA),
        ("B2B平台", Channel.B2B_SITE),
        # full width
        ("ＳＥＯ", Channel.SEARCH_ADS_SEO),
        ("ｑｑ", Channel.IM),
        # the vocabulary itself, with spaces or dashes
        ("inbound_call", Channel.INBOUND_CALL),
        ("Inbound Call", Channel.INBOUND_CALL),
        ("DIRECTORY-CRAWL", Channel.DIRECTORY_CRAWL),
        ("search ads seo", Channel.SEARCH_ADS_SEO),
        ("unknown", Channel.UNKNOWN),
    ])
    def test_maps(self, raw: str, channel: Channel) -> None:
        assert map_channel(raw) is channel

    @pytest.mark.parametrize("raw", ["time", "happy", "apple", "sometimes", "tvshow", "simple", "seoul"])
    def test_short_latin_keywords_match_whole_words_only(self, raw: str) -> None:
        # "time" contains "im", "happy" contains "app", "seoul" contains "seo": none is that channel.
        assert map_channel(raw) is Channel.UNKNOWN

    @pytest.mark.parametrize("raw", [None, "", "   ", "xyz", "朋友介绍"])
    def test_unknown_or_missing(self, raw: str | None) -> None:
        assert map_channel(raw) is Channel.UNKNOWN

    def test_standardize_keeps_raw_channel(self) -> None:
        lead = clean(phone="13924681357", channel=" QQ群 ")
        assert lead.channel is Channel.IM
        assert lead.channel_raw == " QQ群 "


# --------------------------------------------------------------------------------------------------
# Phone


MOBILE_E164 = "+8613924681357"


class TestStandardizePhone:
    @pytest.mark.parametrize("raw", [
        "+86 139-2468-1357",
        "13924681357",
        "139 2468 1357",
        "139-2468-1357",
        "１３９２４６８１３５７",  # full-width digits
        "＋８６ １３９ ２４６８ １３５７",
        "0086 139 2468 1357",
        "+8613924681357",
        "(+86) 13924681357",
    ])
    def test_typed_forms_of_one_mobile(self, raw: str) -> None:
        info = standardize_phone(raw, REGION)
        assert info == PhoneInfo(raw=raw, e164=MOBILE_E164, possible=True, valid=True,
                                 number_type=NumberType.MOBILE, region_code="CN",
                                 region="广东省江门市", carrier="中国移动")

    def test_international_form_ignores_default_region(self) -> None:
        info = standardize_phone("+86 139 2468 1357", "US")
        assert info is not None and info.e164 == MOBILE_E164 and info.region_code == "CN"

    def test_lowercase_default_region_is_accepted(self) -> None:
        info = standardize_phone("13924681357", "cn")
        assert info is not None and info.e164 == MOBILE_E164

    @pytest.mark.parametrize("raw", ["010-62345678", "(010) 6234 5678", "+86 10 6234 5678", "01062345678"])
    def test_beijing_fixed_line(self, raw: str) -> None:
        info = standardize_phone(raw, REGION)
        assert info is not None
        assert info.e164 == "+861062345678"
        assert info.valid
        assert info.number_type is NumberType.FIXED_LINE
        assert info.region == "北京市"
        assert info.region_code == "CN"
        assert info.carrier is None  # fixed lines carry no carrier in the numbering plan data

    def test_guangzhou_fixed_line(self) -> None:
        info = standardize_phone("020-87654321", REGION)
        assert info is not None
        assert info.e164 == "+862087654321"
        assert info.number_type is NumberType.FIXED_LINE
        assert info.region == "广东省广州市"

    @pytest.mark.parametrize("raw", ["4008001234", "400-800-1234"])
    def test_400_number_is_valid_other_type(self, raw: str) -> None:
        # 400 numbers are shared-cost in the numbering plan, a type outside the vocabulary: "other".
        info = standardize_phone(raw, REGION)
        assert info is not None
        assert info.e164 == "+864008001234"
        assert info.valid
        assert info.number_type is NumberType.OTHER
        assert info.region == "中国"
        assert info.carrier is None

    def test_800_number_is_toll_free(self) -> None:
        info = standardize_phone("8008001234", REGION)
        assert info is not None
        assert info.e164 == "+868008001234"
        assert info.number_type is NumberType.TOLL_FREE

    @pytest.mark.parametrize("raw, expected_carrier, expected_region", [
        ("13924681357", "中国移动", "广东省江门市"),
        ("18612345678", "中国联通", "北京市"),
        ("13311112222", "中国电信", "北京市"),
        ("13800138000", "中国移动", "北京市"),
    ])
    def test_carrier_and_region_enrichment(self, raw: str, expected_carrier: str, expected_region: str) -> None:
        info = standardize_phone(raw, REGION)
        assert info is not None
        assert info.carrier == expected_carrier
        assert info.region == expected_region

    def test_foreign_national_number_with_its_region(self) -> None:
        info = standardize_phone("(202) 555-0123", "US")
        assert info is not None
        assert info.e164 == "+12025550123"
        assert info.valid
        assert info.region_code == "US"
        assert info.region == "美国"
        assert info.number_type is NumberType.FIXED_LINE_OR_MOBILE

    def test_uk_fixed_line(self) -> None:
        info = standardize_phone("020 7946 0958", "GB")
        assert info is not None
        assert info.e164 == "+442079460958"
        assert info.region_code == "GB"
        assert info.number_type is NumberType.FIXED_LINE

    def test_standardize_reads_national_number_in_the_leads_phone_region(self) -> None:
        us = clean(phone="2025550123", phone_region="us")
        assert us.phone is not None and us.phone.e164 == "+12025550123" and us.phone.region_code == "US"
        # The same digits under the service default (CN) are something else entirely.
        cn = clean(phone="2025550123")
        assert cn.phone is not None and cn.phone.e164 != "+12025550123"

    @pytest.mark.parametrize("raw", ["abc", "电话", "1", "+", "1234"])
    def test_garbage_and_too_short_are_impossible(self, raw: str) -> None:
        info = standardize_phone(raw, REGION)
        assert info is not None
        assert info.possible is False
        assert info.valid is False
        assert info.e164 is None
        assert info.number_type is NumberType.UNKNOWN
        assert info.raw == raw
        assert (info.region, info.carrier, info.region_code) == (None, None, None)

    def test_unknown_region_code_is_impossible_not_an_error(self) -> None:
        info = standardize_phone("13924681357", "ZZ")
        assert info is not None and info.possible is False and info.e164 is None

    def test_five_digits_is_not_valid(self) -> None:
        # The numbering plan calls 5 digits a possible *local* number in CN, but never a valid one.
        info = standardize_phone("12345", REGION)
        assert info is not None
        assert info.valid is False
        assert info.number_type is NumberType.UNKNOWN
        assert clean(phone="12345").dedup_phone is None

    def test_five_digits_is_impossible(self) -> None:
        info = standardize_phone("12345", REGION)
        assert info is not None
        assert info.possible is False
        assert info.e164 is None

    @pytest.mark.parametrize("raw, e164", [
        ("12924681357", "+8612924681357"),  # 129 is no assigned mobile prefix
        ("+86 139 2468 13571", "+86139246813571"),  # one digit too many
    ])
    def test_possible_but_unassigned_is_invalid_with_e164(self, raw: str, e164: str) -> None:
        info = standardize_phone(raw, REGION)
        assert info is not None
        assert (info.possible, info.valid, info.e164) == (True, False, e164)
        assert info.number_type is NumberType.UNKNOWN
        assert info.region is None and info.carrier is None

    @pytest.mark.parametrize("raw", [None, "", "   ", "\u3000"])
    def test_no_phone_is_none(self, raw: str | None) -> None:
        assert standardize_phone(raw, REGION) is None

    def test_clean_lead_dedup_phone_and_region(self) -> None:
        lead = clean(phone="139-2468-1357", region="上海")
        assert lead.dedup_phone == MOBILE_E164
        assert lead.region == "广东省江门市"  # the number's region wins over the source's hint
        no_phone = clean(email="a@b.com", region=" 上海 ")
        assert no_phone.phone is None and no_phone.dedup_phone is None
        assert no_phone.region == "上海"


# --------------------------------------------------------------------------------------------------
# Test numbers


class TestIsTestNumber:
    @pytest.mark.parametrize("e164", sorted(DEFAULT_TEST_NUMBERS))
    def test_default_test_numbers(self, e164: str) -> None:
        assert is_test_number(e164)

    def test_operator_demo_number_is_among_the_defaults(self) -> None:
        assert "+8613800138000" in DEFAULT_TEST_NUMBERS
        lead = clean(phone="138 0013 8000")
        assert lead.phone is not None and is_test_number(lead.phone.e164 or "")

    @pytest.mark.parametrize("e164", ["+8613988888888", "+8613111111111", "+861066666666"])
    def test_eight_repeated_digits(self, e164: str) -> None:
        assert is_test_number(e164)

    @pytest.mark.parametrize("e164", ["+8613912345678", "+8613987654321", "+8615923456789", "+8613998765432"])
    def test_straight_runs_up_and_down(self, e164: str) -> None:
        assert is_test_number(e164)

    def test_configured_extra_numbers(self) -> None:
        extra = frozenset({"+8613924681357"})
        assert not is_test_number("+8613924681357")
        assert is_test_number("+8613924681357", extra)

    @pytest.mark.parametrize("e164", ["+8613924681357", "+8618612345670", "+8613988888881", "+861062345678",
                                      "+12025550123", "+8613912345687"])
    def test_normal_numbers_are_not_test_numbers(self, e164: str) -> None:
        assert not is_test_number(e164)

    @pytest.mark.parametrize("e164", ["+8613978909876", "+8613956789098", "+8613967890987"])
    def test_up_then_down_is_not_a_straight_run(self, e164: str) -> None:
        assert not is_test_number(e164)


# --------------------------------------------------------------------------------------------------
# Number check and junk


def valid_phone() -> PhoneInfo:
    info = standardize_phone("13924681357", REGION)
    assert info is not None and info.valid
    return info


class TestOfflineNumberCheck:
    def test_ok_reports_number_type(self) -> None:
        assert offline_number_check(valid_phone(), False) == NumberCheckResult("offline", "ok", "mobile")

    def test_do_not_call(self) -> None:
        result = offline_number_check(valid_phone(), True)
        assert (result.checker, result.status) == ("offline", "do_not_call")

    @pytest.mark.parametrize("raw", ["abc", "12924681357"])
    def test_invalid(self, raw: str) -> None:
        info = standardize_phone(raw, REGION)
        assert info is not None
        # invalid wins over the do-not-call list
        assert offline_number_check(info, True).status == "invalid"
        assert offline_number_check(info, False).status == "invalid"

    def test_fixed_line_type_in_detail(self) -> None:
        info = standardize_phone("010-62345678", REGION)
        assert info is not None
        assert offline_number_check(info, False).detail == "fixed_line"


class TestJunkReasons:
    def test_clean_lead_has_no_reasons(self) -> None:
        lead = clean(phone="13924681357", email="a@example.com")
        assert codes(lead, check=NumberCheckResult("offline", "ok")) == []

    def test_impossible_number(self) -> None:
        assert codes(clean(phone="abc")) == [RejectionReason.IMPOSSIBLE_NUMBER]

    def test_invalid_number(self) -> None:
        reasons = junk_reasons(clean(phone="12924681357"), on_do_not_call=False, check=None)
        assert [r.code for r in reasons] == [RejectionReason.INVALID_NUMBER]
        assert "+8612924681357" in reasons[0].message

    def test_test_number(self) -> None:
        assert codes(clean(phone="13800138000")) == [RejectionReason.TEST_NUMBER]

    def test_configured_test_number(self) -> None:
        lead = clean(phone="13924681357")
        assert codes(lead, test_numbers=frozenset({MOBILE_E164})) == [RejectionReason.TEST_NUMBER]

    def test_do_not_call(self) -> None:
        assert codes(clean(phone="13924681357"), on_do_not_call=True) == [RejectionReason.DO_NOT_CALL]

    def test_number_unreachable(self) -> None:
        check = NumberCheckResult("http", "unreachable", "powered off for 90 days")
        reasons = junk_reasons(clean(phone="13924681357"), on_do_not_call=False, check=check)
        assert [r.code for r in reasons] == [RejectionReason.NUMBER_UNREACHABLE]
        assert "http" in reasons[0].message and "powered off for 90 days" in reasons[0].message

    @pytest.mark.parametrize("status", ["ok", "unverified"])
    def test_ok_or_unverified_check_is_no_reason(self, status: str) -> None:
        assert codes(clean(phone="13924681357"), check=NumberCheckResult("http", status)) == []  # type: ignore[arg-type]

    def test_several_reasons_at_once(self) -> None:
        lead = clean(phone="13800138000", email="broken")
        found = codes(lead, on_do_not_call=True, check=NumberCheckResult("http", "unreachable"))
        assert found == [RejectionReason.TEST_NUMBER, RejectionReason.DO_NOT_CALL,
                         RejectionReason.NUMBER_UNREACHABLE, RejectionReason.INVALID_EMAIL]

    def test_invalid_email_without_phone(self) -> None:
        assert codes(clean(email="not-an-email")) == [RejectionReason.INVALID_EMAIL, RejectionReason.NO_CONTACT]

    def test_no_contact(self) -> None:
        assert codes(clean(name="张三")) == [RejectionReason.NO_CONTACT]

    def test_valid_email_alone_is_enough(self) -> None:
        assert codes(clean(email="Zhang@Example.com")) == []

    def test_invalid_email_beside_valid_phone_is_not_junk(self) -> None:
        lead = clean(phone="13924681357", email="not-an-email")
        assert codes(lead) == []
        assert lead.dedup_email is None  # only the email is dropped

    def test_invalid_email_beside_invalid_phone_is_both(self) -> None:
        assert codes(clean(phone="abc", email="nope")) == [RejectionReason.IMPOSSIBLE_NUMBER,
                                                            RejectionReason.INVALID_EMAIL]

    def test_do_not_call_ignored_for_impossible_number(self) -> None:
        # A number that is not a number cannot be looked up: only the impossibility is reported.
        assert codes(clean(phone="abc"), on_do_not_call=True) == [RejectionReason.IMPOSSIBLE_NUMBER]


# --------------------------------------------------------------------------------------------------
# Rule score


def full_lead(**overrides: object) -> CleanLead:
    fields: dict[str, object] = dict(name="张三", phone="13924681357", email="zs@example.com", company="某某科技",
                                     product_interest="CRM", channel="400热线")
    fields.update(overrides)
    return clean(**fields)


def points(breakdown: list, feature: str) -> float:  # type: ignore[type-arg]
    [c] = [c for c in breakdown if c["feature"] == feature]
    return c["points"]


ALL_FEATURES = [
    "channel", "completeness.name", "completeness.email", "completeness.company",
    "completeness.product_interest", "completeness.region", "number_type",
    "behaviour.repeat_logins", "behaviour.long_page_view", "behaviour.unpaid_order",
]


class TestRuleScore:
    def test_breakdown_lists_every_feature_in_order(self) -> None:
        breakdown = rule_contributions(clean(email="a@b.com"), ScoringWeights())
        assert [c["feature"] for c in breakdown] == ALL_FEATURES

    def test_full_lead_with_default_weights(self) -> None:
        lead = full_lead()
        breakdown = rule_contributions(lead, ScoringWeights())
        assert points(breakdown, "channel") == 30  # inbound call
        assert [c["value"] for c in breakdown if c["feature"].startswith("completeness.")] == ["present"] * 5
        assert points(breakdown, "number_type") == 15  # mobile
        assert sum(c["points"] for c in breakdown) == 70
        score = score_lead(lead, ScoringWeights())
        assert (score.rule_score, score.score, score.grade, score.model) == (70, 70, "A", None)

    def test_missing_features_are_listed_with_zero_points(self) -> None:
        lead = clean(email="a@b.com")
        breakdown = {c["feature"]: c for c in rule_contributions(lead, ScoringWeights())}
        assert breakdown["channel"]["value"] == "unknown" and breakdown["channel"]["points"] == 5
        assert breakdown["completeness.name"]["value"] == "missing" and breakdown["completeness.name"]["points"] == 0
        assert breakdown["completeness.email"]["value"] == "present" and breakdown["completeness.email"]["points"] == 4
        assert breakdown["number_type"]["value"] == "none" and breakdown["number_type"]["points"] == 0
        assert breakdown["behaviour.unpaid_order"]["value"] == "no"
        assert score_lead(lead, ScoringWeights()).rule_score == 9

    def test_invalid_email_is_not_counted_as_present(self) -> None:
        breakdown = rule_contributions(full_lead(email="nope"), ScoringWeights())
        assert points(breakdown, "completeness.email") == 0

    def test_behaviour_points(self) -> None:
        behaviour = Behaviour(logins_7d=3, page_view_seconds=120, unpaid_order=True)
        breakdown = rule_contributions(full_lead(behaviour=behaviour), ScoringWeights())
        assert points(breakdown, "behaviour.repeat_logins") == 6  # 2 repeats * 3
        assert points(breakdown, "behaviour.long_page_view") == 8
        assert points(breakdown, "behaviour.unpaid_order") == 15

    def test_repeat_logins_are_capped_and_short_views_earn_nothing(self) -> None:
        behaviour = Behaviour(logins_7d=50, page_view_seconds=119)
        breakdown = rule_contributions(full_lead(behaviour=behaviour), ScoringWeights())
        assert points(breakdown, "behaviour.repeat_logins") == 12
        assert points(breakdown, "behaviour.long_page_view") == 0

    def test_single_login_is_no_repeat(self) -> None:
        breakdown = rule_contributions(full_lead(behaviour=Behaviour(logins_7d=1)), ScoringWeights())
        assert points(breakdown, "behaviour.repeat_logins") == 0

    def test_contributions_sum_to_rule_score(self) -> None:
        lead = full_lead(channel="抖音", behaviour=Behaviour(logins_7d=2, page_view_seconds=10))
        score = score_lead(lead, ScoringWeights())
        total = sum(c["points"] for c in score.breakdown)
        assert total == 12 + 25 + 15 + 3
        assert score.rule_score == round(total) == 55
        assert score.grade == "B"

    def test_rule_score_is_clamped_to_100(self) -> None:
        behaviour = Behaviour(logins_7d=10, page_view_seconds=600, unpaid_order=True)
        score = score_lead(full_lead(behaviour=behaviour), ScoringWeights())
        assert sum(c["points"] for c in score.breakdown) == 105
        assert score.rule_score == 100 and score.score == 100

    def test_changing_weights_changes_the_score(self) -> None:
        lead = full_lead()
        weights = ScoringWeights(channel={Channel.INBOUND_CALL: 5})
        assert score_lead(lead, ScoringWeights()).score == 70
        assert score_lead(lead, weights).score == 45
        heavier = ScoringWeights(number_type={NumberType.MOBILE: 40})
        assert score_lead(lead, heavier).score == 95

    def test_channel_missing_from_weights_earns_zero(self) -> None:
        weights = ScoringWeights(channel={Channel.IM: 20})
        assert points(rule_contributions(full_lead(), weights), "channel") == 0

    @pytest.mark.parametrize("score, grade", [(100, "A"), (70, "A"), (69, "B"), (50, "B"), (49, "C"), (30, "C"),
                                              (29, "D"), (0, "D")])
    def test_default_grades(self, score: int, grade: str) -> None:
        assert GradeThresholds().grade(score) == grade

    def test_custom_grades_are_used_by_score_lead(self) -> None:
        weights = ScoringWeights(grades=GradeThresholds(A=90, B=80, C=70))
        assert score_lead(full_lead(), weights).grade == "C"

    def test_equal_thresholds_are_allowed(self) -> None:
        thresholds = GradeThresholds(A=60, B=60, C=60)
        assert thresholds.grade(60) == "A" and thresholds.grade(59) == "D"

    @pytest.mark.parametrize("values", [dict(A=50, B=60, C=30), dict(A=70, B=20, C=30), dict(A=10, B=20, C=30)])
    def test_thresholds_must_descend(self, values: dict[str, int]) -> None:
        with pytest.raises(ValidationError, match="A >= B >= C"):
            GradeThresholds(**values)

    @pytest.mark.parametrize("values", [dict(A=101), dict(C=-1), dict(D=10)])
    def test_thresholds_bounds_and_unknown_fields(self, values: dict[str, int]) -> None:
        with pytest.raises(ValidationError):
            GradeThresholds(**values)

    @pytest.mark.parametrize("values", [
        dict(channel={Channel.IM: 101}),
        dict(channel={Channel.IM: -1}),
        dict(completeness={"name": 150}),
        dict(number_type={NumberType.MOBILE: -0.5}),
        dict(behaviour={"unpaid_order": 101}),
        dict(model_blend_weight=1.5),
        dict(model_min_outcomes=1),
        dict(model_min_per_class=0),
    ])
    def test_weights_reject_out_of_range(self, values: dict[str, object]) -> None:
        with pytest.raises(ValidationError):
            ScoringWeights(**values)

    @pytest.mark.parametrize("values", [
        dict(bonus=5),
        dict(completeness={"phone": 5}),
        dict(channel={"carrier_pigeon": 5}),
        dict(behaviour={"points_per_like": 1}),
    ])
    def test_weights_reject_unknown_fields(self, values: dict[str, object]) -> None:
        with pytest.raises(ValidationError):
            ScoringWeights(**values)

    def test_weights_accept_bounds(self) -> None:
        weights = ScoringWeights(channel={Channel.IM: 0, Channel.APP_EVENT: 100})
        assert weights.channel == {Channel.IM: 0, Channel.APP_EVENT: 100}


# --------------------------------------------------------------------------------------------------
# Model


class TestModelFeatures:
    def test_full_lead_features(self) -> None:
        lead = full_lead(behaviour=Behaviour(logins_7d=5, page_view_seconds=120, unpaid_order=True))
        assert model_features(lead) == {"channel": "inbound_call", "number_type": "mobile", "completeness": "4-5",
                                        "logins": "5+", "page_view": "120s+", "unpaid_order": "yes"}

    def test_sparse_lead_features(self) -> None:
        lead = clean(email="a@b.com", behaviour=Behaviour(logins_7d=2, page_view_seconds=30))
        assert model_features(lead) == {"channel": "unknown", "number_type": "none", "completeness": "0-1",
                                        "logins": "2-4", "page_view": "30-119s", "unpaid_order": "no"}

    def test_every_feature_value_is_known_to_the_model(self) -> None:
        for lead in (full_lead(), clean(email="a@b.com"), clean(phone="abc", name="x", company="y")):
            for name, value in model_features(lead).items():
                assert value in MODEL_FEATURE_VALUES[name]


def trained_counts(won: int, lost: int, won_features: dict[str, str], lost_features: dict[str, str]) -> OutcomeCounts:
    counts = OutcomeCounts()
    for _ in range(won):
        counts.add(won_features, "won")
    for _ in range(lost):
        counts.add(lost_features, "lost")
    return counts


class TestOutcomeCounts:
    def test_increments_are_mongo_inc_keys(self) -> None:
        inc = OutcomeCounts.increments({"channel": "im", "page_view": "<30s"}, "won")
        assert inc == {"won": 1, "features.channel:im.won": 1, "features.page_view:<30s.won": 1}

    def test_add_counts(self) -> None:
        counts = OutcomeCounts()
        counts.add({"channel": "im"}, "won")
        counts.add({"channel": "im"}, "lost")
        counts.add({"channel": "forum"}, "lost")
        assert (counts.won, counts.lost, counts.total) == (1, 2, 3)
        assert counts.features == {"channel:im": {"won": 1, "lost": 1}, "channel:forum": {"lost": 1}}

    def test_add_and_increments_agree(self) -> None:
        """Applying the $inc documents to a nested dict the way Mongo does gives the same counts as add()."""
        outcomes = [
            (model_features(full_lead()), "won"),
            (model_features(clean(email="a@b.com")), "lost"),
            (model_features(full_lead(channel="QQ")), "won"),
            (model_features(full_lead()), "lost"),
        ]
        counts = OutcomeCounts()
        document: dict[str, object] = {}
        for features, outcome in outcomes:
            counts.add(features, outcome)  # type: ignore[arg-type]
            for path, n in OutcomeCounts.increments(features, outcome).items():  # type: ignore[arg-type]
                node = document
                *parents, leaf = path.split(".")
                for part in parents:
                    node = node.setdefault(part, {})  # type: ignore[assignment,union-attr]
                node[leaf] = node.get(leaf, 0) + n  # type: ignore[union-attr,operator]
        stored = OutcomeCounts(won=document.get("won", 0), lost=document.get("lost", 0),  # type: ignore[arg-type]
                               features=document.get("features", {}))  # type: ignore[arg-type]
        assert stored == counts
        assert counts.features["channel:inbound_call"] == {"won": 1, "lost": 1}


class TestPredictWon:
    def test_empty_counts_are_even(self) -> None:
        probability, log_odds = predict_won(OutcomeCounts(), {"channel": "im"})
        assert probability == pytest.approx(0.5)
        assert log_odds == {"channel": 0.0}

    def test_leans_to_won_for_features_seen_with_wins(self) -> None:
        good = {"channel": "inbound_call", "number_type": "mobile"}
        bad = {"channel": "directory_crawl", "number_type": "fixed_line"}
        counts = trained_counts(20, 20, good, bad)
        p_good, odds_good = predict_won(counts, good)
        p_bad, odds_bad = predict_won(counts, bad)
        assert p_good > 0.9 and p_bad < 0.1
        assert odds_good["channel"] > 0 and odds_bad["channel"] < 0

    def test_laplace_smoothing_value(self) -> None:
        counts = trained_counts(3, 1, {"page_view": "120s+"}, {"page_view": "<30s"})
        probability, log_odds = predict_won(counts, {"page_view": "120s+"})
        # prior (3+1)/(1+1); page_view has 3 values: P(120s+|won) = (3+1)/(3+3), P(120s+|lost) = (0+1)/(1+3)
        expected_feature = math.log((4 / 6) / (1 / 4))
        assert log_odds == {"page_view": round(expected_feature, 4)}
        expected = 1 / (1 + math.exp(-(math.log(2) + round(expected_feature, 4))))
        assert probability == pytest.approx(expected)

    def test_unseen_value_is_neutral_when_classes_are_balanced(self) -> None:
        counts = trained_counts(10, 10, {"channel": "im"}, {"channel": "forum"})
        probability, log_odds = predict_won(counts, {"channel": "tv_never_seen"})
        assert log_odds["channel"] == 0.0
        assert probability == pytest.approx(0.5)


class TestModelBlend:
    good_lead = staticmethod(lambda: full_lead())
    bad_lead = staticmethod(lambda: clean(email="a@b.com", channel="名录"))

    def counts(self, won: int, lost: int) -> OutcomeCounts:
        return trained_counts(won, lost, model_features(self.good_lead()), model_features(self.bad_lead()))

    def test_no_model_without_counts(self) -> None:
        score = score_lead(self.good_lead(), ScoringWeights(), None)
        assert score.model is None and score.score == score.rule_score == 70

    def test_no_model_below_min_outcomes(self) -> None:
        score = score_lead(self.good_lead(), ScoringWeights(), self.counts(15, 14))  # 29 < 30
        assert score.model is None and score.score == 70

    def test_no_model_below_min_per_class(self) -> None:
        score = score_lead(self.good_lead(), ScoringWeights(), self.counts(36, 4))  # 4 lost < 5
        assert score.model is None and score.score == 70

    def test_no_model_with_zero_blend_weight(self) -> None:
        score = score_lead(self.good_lead(), ScoringWeights(model_blend_weight=0), self.counts(20, 20))
        assert score.model is None and score.score == 70

    def test_model_blends_in_at_the_thresholds(self) -> None:
        counts = self.counts(25, 5)  # 30 outcomes, 5 of the rarer class
        score = score_lead(self.good_lead(), ScoringWeights(), counts)
        assert score.model is not None
        assert score.model.outcomes_used == 30
        assert score.model.blend_weight == 0.5
        assert set(score.model.feature_log_odds) == set(MODEL_FEATURE_VALUES)
        probability = score.model.probability_won
        assert probability > 0.99
        assert score.rule_score == 70
        assert score.score == round(0.5 * 70 + 0.5 * 100 * predict_won(counts, score.features)[0]) == 85
        assert score.grade == "A"

    def test_model_pulls_a_bad_lead_down(self) -> None:
        weights = ScoringWeights(model_blend_weight=1.0)
        bad = self.bad_lead()
        score = score_lead(bad, weights, self.counts(20, 20))
        assert score.model is not None and score.model.probability_won < 0.01
        assert score.rule_score == 8  # directory crawl 4 + email 4
        assert score.score == 0 and score.grade == "D"

    def test_custom_minimums(self) -> None:
        weights = ScoringWeights(model_min_outcomes=4, model_min_per_class=2)
        assert score_lead(self.good_lead(), weights, self.counts(2, 2)).model is not None
        assert score_lead(self.good_lead(), weights, self.counts(3, 1)).model is None


class TestRegionPreference:
    """The number's region wins, unless the number names only its country and the source knew better."""

    def test_country_only_number_keeps_the_sources_region(self) -> None:
        lead = standardize(LeadReceived(phone="4008001234", region="上海"), "CN")
        assert lead.phone is not None and lead.phone.region_is_country
        assert lead.region == "上海"

    def test_country_only_number_without_hint_keeps_the_country(self) -> None:
        lead = standardize(LeadReceived(phone="4008001234"), "CN")
        assert lead.region == "中国"

    def test_city_level_number_beats_the_hint(self) -> None:
        lead = standardize(LeadReceived(phone="010-62345678", region="上海"), "CN")
        assert lead.phone is not None and not lead.phone.region_is_country
        assert lead.region == "北京市"


def test_whats_app_with_a_space_is_im() -> None:
    assert map_channel("Whats App") == Channel.IM
