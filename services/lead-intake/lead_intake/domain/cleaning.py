"""Standardize, enrich and drop junk: the steps of the pipeline that need nothing but the lead (pure functions,
no I/O). See domain/__init__.py for the whole pipeline."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
from phonenumbers import PhoneNumberType, carrier

from telesales_contracts.consent import Consent
from telesales_contracts.leads import (
    Behaviour,
    Channel,
    LeadReceived,
    NumberType,
    Rejection,
    RejectionReason,
)

from .. import phone_regions

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
    source_system: str | None = None  # the producing system, when the lead names it (else the event's source)
    external_id: str | None = None  # the producing system's own id of the lead
    extra: Mapping[str, Any] = field(default_factory=dict)  # fields beyond the contract, under their own names
    consent: Consent | None = None  # the source's consent statement, as given (domain/consent.py reads it)

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
        source_system=lead.source_system,
        external_id=lead.external_id,
        extra=lead.extra_fields(),
        consent=lead.consent,
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


