"""Lead cleaning and scoring: pure functions, no I/O.

The pipeline follows the practice the product automates (seed 003): standardize, enrich, drop junk,
de-duplicate, test numbers, score. De-duplication needs the database and lives in the service layer;
everything that can be decided from the lead alone is here.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
from phonenumbers import PhoneNumberType, carrier
from pydantic import BaseModel, ConfigDict, Field, model_validator

from telesales_contracts.leads import (
    Behaviour,
    Channel,
    LeadReceived,
    ModelContribution,
    NumberType,
    Rejection,
    RejectionReason,
)

from . import phone_regions

# --------------------------------------------------------------------------------------------------
# Standardize
#
# The value classes below are built several times for every lead: plain slotted dataclasses, since
# frozen ones pay an object.__setattr__ per field. Nothing mutates them after construction.


def fold_text(value: str | None) -> str | None:
    """NFKC folds full-width letters, digits and punctuation to their usual forms; whitespace is
    trimmed and collapsed. An empty result is no value."""
    if value is None:
        return None
    folded = " ".join(unicodedata.normalize("NFKC", value).split())
    return folded or None


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def normalize_email(value: str | None) -> tuple[str | None, bool]:
    """(normalized email, valid). A missing email is valid; a malformed one is returned folded but invalid."""
    folded = fold_text(value)
    if folded is None:
        return None, True
    folded = folded.lower()
    return folded, bool(_EMAIL.match(folded))


# Keyword table for the channel vocabulary. The first channel with a matching keyword wins, so the
# more specific names come first (e.g. "whatsapp" before "app").
_CHANNEL_KEYWORDS: tuple[tuple[Channel, tuple[str, ...]], ...] = (
    (Channel.INBOUND_CALL, ("inbound", "incall", "呼入", "来电", "400热线", "hotline")),
    (Channel.IM, ("whatsapp", "whats app", "wechat", "weixin", "微信", "qq", "im", "telegram", "企业微信", "即时通讯")),
    (Channel.SEARCH_ADS_SEO, ("sem", "seo", "search", "baidu", "百度", "搜索", "360搜索", "sogou", "搜狗", "google", "bing", "竞价")),
    (Channel.B2B_SITE, ("b2b", "1688", "alibaba", "阿里巴巴", "慧聪", "hc360", "made-in-china")),
    (Channel.VERTICAL_SITE, ("vertical", "垂直", "垂类", "行业网站", "58", "赶集", "安居客", "汽车之家", "industry site")),
    (Channel.SOCIAL_MEDIA, ("social", "自媒体", "抖音", "douyin", "tiktok", "快手", "kuaishou", "微博", "weibo", "小红书", "xiaohongshu", "公众号", "bilibili", "b站", "知乎", "zhihu")),
    (Channel.FORUM, ("forum", "论坛", "贴吧", "tieba", "bbs", "社区")),
    (Channel.OFFLINE_MEDIA, ("offline", "tv", "电视", "radio", "广播", "newspaper", "报纸", "杂志", "magazine", "地铁", "公交", "subway", "楼宇", "户外", "outdoor", "会展", "展会", "exhibition", "billboard")),
    (Channel.DIRECTORY_CRAWL, ("crawl", "爬取", "爬虫", "名录", "directory", "工商", "协会", "企业名录", "scrape")),
    (Channel.APP_EVENT, ("app", "应用", "客户端", "小程序", "mini program", "miniprogram")),
)
_CHANNEL_VALUES = {c.value: c for c in Channel}
_ASCII_WORD = re.compile(r"^[a-z0-9 -]+$")


@lru_cache(maxsize=4096)  # sources send few distinct channel names, over and over
def map_channel(raw: str | None) -> Channel:
    """Map the source's channel name (English or Chinese, any case or width) to the fixed vocabulary."""
    folded = fold_text(raw)
    if folded is None:
        return Channel.UNKNOWN
    text = folded.lower()
    if text.replace(" ", "_").replace("-", "_") in _CHANNEL_VALUES:
        return _CHANNEL_VALUES[text.replace(" ", "_").replace("-", "_")]
    words = set(re.split(r"[^a-z0-9]+", text))
    for channel, keywords in _CHANNEL_KEYWORDS:
        for keyword in keywords:
            # Short Latin keywords ("im", "tv", "qq") match whole words only, so "time" is not IM.
            if _ASCII_WORD.match(keyword) and len(keyword) <= 4:
                if keyword in words:
                    return channel
            elif keyword in text:
                return channel
    return Channel.UNKNOWN


_NUMBER_TYPES: dict[int, NumberType] = {
    PhoneNumberType.MOBILE: NumberType.MOBILE,
    PhoneNumberType.FIXED_LINE: NumberType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.TOLL_FREE: NumberType.TOLL_FREE,
    PhoneNumberType.VOIP: NumberType.VOIP,
    PhoneNumberType.UNKNOWN: NumberType.UNKNOWN,
}


@dataclass(slots=True)
class PhoneInfo:
    """A phone number as given and as understood from the numbering plan."""

    raw: str
    e164: str | None
    possible: bool
    valid: bool
    number_type: NumberType
    region_code: str | None = None
    region: str | None = None
    carrier: str | None = None
    region_is_country: bool = False  # the number tells only its country (e.g. 400 numbers, some mobiles)


def standardize_phone(raw: str | None, default_region: str) -> PhoneInfo | None:
    """Parse a phone as typed (spaces, dashes, +86, full-width digits) into E.164 and enrich it with
    region, carrier and number type. None when no phone was given."""
    folded = fold_text(raw)
    if folded is None:
        return None
    try:
        number = phonenumbers.parse(folded, default_region.upper())
    except phonenumbers.NumberParseException:
        return PhoneInfo(raw=raw or "", e164=None, possible=False, valid=False, number_type=NumberType.UNKNOWN)
    # Only a number dialable as it stands counts as possible: "12345" is at most a local extension.
    possible = phonenumbers.is_possible_number_with_reason(number) == phonenumbers.ValidationResult.IS_POSSIBLE
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if possible else None
    # The type is looked up once and reused: is_valid_number, the geocoder and the carrier look-up would
    # each compute it again (it is most of the cost of a lead). Same rules as those library functions.
    ntype = phonenumbers.number_type(number) if possible else PhoneNumberType.UNKNOWN
    region_code = phonenumbers.region_code_for_number(number) if possible else None
    if ntype == PhoneNumberType.UNKNOWN or region_code is None:
        return PhoneInfo(raw=raw or "", e164=e164, possible=possible, valid=False, number_type=NumberType.UNKNOWN)
    places = phone_regions.names()
    country = places.country(number) or None
    if phonenumbers.is_number_type_geographical(ntype, number.country_code):
        region = places.area(number) or None
    else:
        region = country
    mobile = ntype in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER)
    return PhoneInfo(
        raw=raw or "",
        e164=e164,
        possible=True,
        valid=True,
        number_type=_NUMBER_TYPES.get(ntype, NumberType.OTHER),
        region_code=region_code,
        region=region,
        carrier=(carrier.name_for_valid_number(number, "zh") or None) if mobile else None,
        region_is_country=region is not None and region == country,
    )


# Numbers every tester types: the operator's own demo number and its relatives.
DEFAULT_TEST_NUMBERS = frozenset({"+8613800138000", "+8613800000000", "+8613900000000", "+8613000000000"})
_RUN_UP = "0123456789" * 2
_RUN_DOWN = _RUN_UP[::-1]


def is_test_number(e164: str, extra_test_numbers: frozenset[str] = frozenset()) -> bool:
    """Known test numbers, and subscriber digits no real person has: eight repeated digits, or a
    straight run up or down (…12345678, …87654321)."""
    if e164 in DEFAULT_TEST_NUMBERS or e164 in extra_test_numbers:
        return True
    tail = e164[-8:]
    if len(tail) == 8 and tail.isdigit():
        if len(set(tail)) == 1 or tail in _RUN_UP or tail in _RUN_DOWN:
            return True
    return False


@dataclass(slots=True)
class CleanLead:
    """A received lead after standardization and enrichment."""

    name: str | None
    phone: PhoneInfo | None
    email: str | None
    email_valid: bool
    company: str | None
    channel: Channel
    channel_raw: str | None
    business_line: str
    product_interest: str | None
    region_hint: str | None
    notes: str | None
    attributes: Mapping[str, str]
    behaviour: Behaviour

    @property
    def region(self) -> str | None:
        """The number's region, unless it names only the country and the source knew better."""
        phone_region = self.phone.region if self.phone is not None else None
        if phone_region and not (self.phone.region_is_country and self.region_hint):  # type: ignore[union-attr]
            return phone_region
        return self.region_hint

    @property
    def dedup_phone(self) -> str | None:
        return self.phone.e164 if self.phone is not None and self.phone.valid else None

    @property
    def dedup_email(self) -> str | None:
        return self.email if self.email_valid else None


def standardize(lead: LeadReceived, default_region: str) -> CleanLead:
    email, email_valid = normalize_email(lead.email)
    return CleanLead(
        name=fold_text(lead.name),
        phone=standardize_phone(lead.phone, lead.phone_region or default_region),
        email=email,
        email_valid=email_valid,
        company=fold_text(lead.company),
        channel=map_channel(lead.channel),
        channel_raw=lead.channel,
        business_line=fold_text(lead.business_line) or "default",
        product_interest=fold_text(lead.product_interest),
        region_hint=fold_text(lead.region),
        notes=lead.notes,  # free text is kept exactly as given
        attributes=dict(lead.attributes),
        behaviour=lead.behaviour or Behaviour(),
    )


# --------------------------------------------------------------------------------------------------
# Junk and number test


@dataclass(slots=True)
class NumberCheckResult:
    checker: str
    status: Literal["ok", "invalid", "do_not_call", "unreachable", "unverified"]
    detail: str | None = None


def offline_number_check(phone: PhoneInfo, on_do_not_call: bool) -> NumberCheckResult:
    """The default number test: numbering plan, type and the do-not-call list, no network."""
    if not phone.valid:
        return NumberCheckResult("offline", "invalid", "not a valid number in its numbering plan")
    if on_do_not_call:
        return NumberCheckResult("offline", "do_not_call", "on the do-not-call list")
    return NumberCheckResult("offline", "ok", phone.number_type.value)


def junk_reasons(
    lead: CleanLead,
    *,
    on_do_not_call: bool,
    check: NumberCheckResult | None,
    test_numbers: frozenset[str] = frozenset(),
) -> list[Rejection]:
    """Every reason the lead is junk; empty when it may enter the pools."""
    reasons: list[Rejection] = []
    phone = lead.phone
    if phone is not None:
        if not phone.possible:
            reasons.append(Rejection(code=RejectionReason.IMPOSSIBLE_NUMBER,
                                     message=f"{phone.raw!r} cannot be a phone number (wrong length or characters)"))
        elif not phone.valid:
            reasons.append(Rejection(code=RejectionReason.INVALID_NUMBER,
                                     message=f"{phone.e164} is not an assigned range of its numbering plan"))
        else:
            assert phone.e164 is not None
            if is_test_number(phone.e164, test_numbers):
                reasons.append(Rejection(code=RejectionReason.TEST_NUMBER, message=f"{phone.e164} is a test number"))
            if on_do_not_call:
                reasons.append(Rejection(code=RejectionReason.DO_NOT_CALL,
                                         message=f"{phone.e164} is on the do-not-call list"))
            if check is not None and check.status in ("unreachable", "invalid"):
                reasons.append(Rejection(code=RejectionReason.NUMBER_UNREACHABLE,
                                         message=f"{check.checker} checker: {check.detail or 'unreachable'}"))
    if lead.email is not None and not lead.email_valid:
        reasons.append(Rejection(code=RejectionReason.INVALID_EMAIL, message=f"{lead.email!r} is not an email address"))
    if phone is None and lead.dedup_email is None:
        reasons.append(Rejection(code=RejectionReason.NO_CONTACT, message="neither a phone number nor a valid email"))
    # A bad email beside a good phone is no reason to drop the lead: only the email is dropped.
    if phone is not None and phone.valid and all(r.code == RejectionReason.INVALID_EMAIL for r in reasons):
        return []
    return reasons


# --------------------------------------------------------------------------------------------------
# Score


class BehaviourWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_per_repeat_login: float = Field(default=3, ge=0, le=100)
    repeat_logins_cap: float = Field(default=12, ge=0, le=100)
    long_page_view_seconds: int = Field(default=120, ge=1)
    long_page_view: float = Field(default=8, ge=0, le=100)
    unpaid_order: float = Field(default=15, ge=0, le=100)


class GradeThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    A: int = Field(default=70, ge=0, le=100)
    B: int = Field(default=50, ge=0, le=100)
    C: int = Field(default=30, ge=0, le=100)

    @model_validator(mode="after")
    def _descending(self) -> GradeThresholds:
        if not self.A >= self.B >= self.C:
            raise ValueError("grade thresholds must satisfy A >= B >= C")
        return self

    def grade(self, score: int) -> Literal["A", "B", "C", "D"]:
        if score >= self.A:
            return "A"
        if score >= self.B:
            return "B"
        if score >= self.C:
            return "C"
        return "D"


class ScoringWeights(BaseModel):
    """Points per feature of the rule score; configurable per tenant through the API."""

    model_config = ConfigDict(extra="forbid")

    channel: dict[Channel, float] = Field(default_factory=lambda: {
        Channel.INBOUND_CALL: 30, Channel.APP_EVENT: 22, Channel.SEARCH_ADS_SEO: 20, Channel.B2B_SITE: 16,
        Channel.VERTICAL_SITE: 16, Channel.IM: 14, Channel.SOCIAL_MEDIA: 12, Channel.OFFLINE_MEDIA: 10,
        Channel.FORUM: 8, Channel.DIRECTORY_CRAWL: 4, Channel.UNKNOWN: 5,
    })
    completeness: dict[Literal["name", "email", "company", "product_interest", "region"], float] = Field(
        default_factory=lambda: {"name": 6, "email": 4, "company": 6, "product_interest": 6, "region": 3}
    )
    number_type: dict[NumberType, float] = Field(default_factory=lambda: {
        NumberType.MOBILE: 15, NumberType.FIXED_LINE_OR_MOBILE: 12, NumberType.FIXED_LINE: 10,
        NumberType.VOIP: 2, NumberType.OTHER: 2, NumberType.TOLL_FREE: 0, NumberType.UNKNOWN: 0,
    })
    behaviour: BehaviourWeights = Field(default_factory=BehaviourWeights)
    grades: GradeThresholds = Field(default_factory=GradeThresholds)
    model_blend_weight: float = Field(default=0.5, ge=0, le=1,
                                      description="Share of the learned model in the final score once it is trusted.")
    model_min_outcomes: int = Field(default=30, ge=2, description="Outcomes needed before the model blends in.")
    model_min_per_class: int = Field(default=5, ge=1, description="Won and lost outcomes each needed.")

    def model_trusted(self, won: int, lost: int) -> bool:
        """Enough outcomes of both kinds for the learned model to blend in."""
        return (self.model_blend_weight > 0 and won + lost >= self.model_min_outcomes
                and min(won, lost) >= self.model_min_per_class)

    @model_validator(mode="after")
    def _all_points_bounded(self) -> ScoringWeights:
        for table in (self.channel, self.completeness, self.number_type):
            for key, points in table.items():
                if not 0 <= points <= 100:
                    raise ValueError(f"points for {key} must be between 0 and 100")
        return self


# One feature's points, in the wire form of leads.qualified.v1's `score_breakdown` items
# (ScoreContribution): plain dicts, because every lead builds eleven of them.
Contribution = dict[str, Any]


def _contribution(*, feature: str, value: str, points: float) -> Contribution:
    return {"feature": feature, "value": value, "points": float(points)}


def rule_contributions(lead: CleanLead, weights: ScoringWeights) -> list[Contribution]:
    """Each feature's points, in a fixed order; features worth nothing are listed too (they explain)."""
    out = [_contribution(feature="channel", value=lead.channel.value,
                             points=weights.channel.get(lead.channel, 0.0))]
    present = {
        "name": lead.name is not None,
        "email": lead.dedup_email is not None,
        "company": lead.company is not None,
        "product_interest": lead.product_interest is not None,
        "region": lead.region is not None,
    }
    for name, points in weights.completeness.items():
        out.append(_contribution(feature=f"completeness.{name}", value="present" if present[name] else "missing",
                                     points=points if present[name] else 0.0))
    number_type = lead.phone.number_type if lead.phone is not None else None
    out.append(_contribution(feature="number_type", value=number_type.value if number_type else "none",
                                 points=weights.number_type.get(number_type, 0.0) if number_type else 0.0))
    b, bw = lead.behaviour, weights.behaviour
    repeats = max(0, b.logins_7d - 1)
    out.append(_contribution(feature="behaviour.repeat_logins", value=str(b.logins_7d),
                                 points=min(bw.repeat_logins_cap, repeats * bw.points_per_repeat_login)))
    long_view = b.page_view_seconds >= bw.long_page_view_seconds
    out.append(_contribution(feature="behaviour.long_page_view", value=f"{b.page_view_seconds}s",
                                 points=bw.long_page_view if long_view else 0.0))
    out.append(_contribution(feature="behaviour.unpaid_order", value="yes" if b.unpaid_order else "no",
                                 points=bw.unpaid_order if b.unpaid_order else 0.0))
    return out


# The model sees coarse, categorical features: few values each, so few outcomes already say something.
MODEL_FEATURE_VALUES: dict[str, tuple[str, ...]] = {
    "channel": tuple(c.value for c in Channel),
    "number_type": (*(t.value for t in NumberType), "none"),
    "completeness": ("0-1", "2-3", "4-5"),
    "logins": ("0-1", "2-4", "5+"),
    "page_view": ("<30s", "30-119s", "120s+"),
    "unpaid_order": ("yes", "no"),
}


def model_features(lead: CleanLead) -> dict[str, str]:
    filled = sum(x is not None for x in (lead.name, lead.dedup_email, lead.company, lead.product_interest, lead.region))
    b = lead.behaviour
    return {
        "channel": lead.channel.value,
        "number_type": lead.phone.number_type.value if lead.phone is not None else "none",
        "completeness": "0-1" if filled <= 1 else "2-3" if filled <= 3 else "4-5",
        "logins": "0-1" if b.logins_7d <= 1 else "2-4" if b.logins_7d <= 4 else "5+",
        "page_view": "<30s" if b.page_view_seconds < 30 else "30-119s" if b.page_view_seconds < 120 else "120s+",
        "unpaid_order": "yes" if b.unpaid_order else "no",
    }


@dataclass
class OutcomeCounts:
    """Won/lost counts per business line, in total and per feature value: the naive-Bayes model."""

    won: int = 0
    lost: int = 0
    features: dict[str, dict[str, int]] = field(default_factory=dict)  # "channel:im" -> {"won": n, "lost": n}

    @property
    def total(self) -> int:
        return self.won + self.lost

    @staticmethod
    def increments(features: Mapping[str, str], outcome: Literal["won", "lost"]) -> dict[str, int]:
        """The $inc a stored model document takes for one outcome."""
        inc = {outcome: 1}
        for name, value in features.items():
            inc[f"features.{name}:{value}.{outcome}"] = 1
        return inc

    def add(self, features: Mapping[str, str], outcome: Literal["won", "lost"]) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        for name, value in features.items():
            cell = self.features.setdefault(f"{name}:{value}", {})
            cell[outcome] = cell.get(outcome, 0) + 1


def predict_won(counts: OutcomeCounts, features: Mapping[str, str], alpha: float = 1.0) -> tuple[float, dict[str, float]]:
    """P(won | features) by naive Bayes with Laplace smoothing, and each feature's log-odds share."""
    prior = math.log((counts.won + alpha) / (counts.lost + alpha))
    log_odds: dict[str, float] = {}
    for name, value in features.items():
        k = len(MODEL_FEATURE_VALUES.get(name, ())) or 2
        cell = counts.features.get(f"{name}:{value}", {})
        p_won = (cell.get("won", 0) + alpha) / (counts.won + alpha * k)
        p_lost = (cell.get("lost", 0) + alpha) / (counts.lost + alpha * k)
        log_odds[name] = round(math.log(p_won / p_lost), 4)
    total = prior + sum(log_odds.values())
    probability = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, total))))
    return probability, log_odds


@dataclass(slots=True)
class Score:
    score: int
    grade: Literal["A", "B", "C", "D"]
    rule_score: int
    breakdown: list[Contribution]
    model: ModelContribution | None
    features: dict[str, str]


def score_lead(lead: CleanLead, weights: ScoringWeights, counts: OutcomeCounts | None = None) -> Score:
    """Rule score, blended with the learned model once enough outcomes of both kinds exist."""
    breakdown = rule_contributions(lead, weights)
    rule = max(0, min(100, round(sum(c["points"] for c in breakdown))))
    features = model_features(lead)
    model: ModelContribution | None = None
    final = rule
    if counts is not None and weights.model_trusted(counts.won, counts.lost):
        probability, log_odds = predict_won(counts, features)
        w = weights.model_blend_weight
        final = max(0, min(100, round((1 - w) * rule + w * 100 * probability)))
        model = ModelContribution(probability_won=round(probability, 4), blend_weight=w,
                                  outcomes_used=counts.total, feature_log_odds=log_odds)
    return Score(score=final, grade=weights.grades.grade(final), rule_score=rule, breakdown=breakdown,
                 model=model, features=features)
