"""Masking of personal data, for responses to callers who may not see it and for every log line: one
rule for a phone number, a name and an e-mail address wherever they are shown."""

from __future__ import annotations

import re

_SEP = r"[ \-]?"
# A mobile: 1[3-9] and nine more digits, maybe after +86/0086/86, digits maybe grouped by a space or a dash.
_MOBILE = rf"(?:(?:\+|00)?86{_SEP})?1[3-9](?:{_SEP}\d){{9}}"
# A landline: a 3-4 digit area code starting with 0 (maybe in brackets, or +86 and the code without its 0),
# then 7-8 digits, maybe grouped.
_LANDLINE = rf"(?:\(0\d{{2,3}}\){_SEP}|0\d{{2,3}}{_SEP}|(?:\+|00)?86{_SEP}[1-9]\d{{1,2}}{_SEP})\d{{3,4}}{_SEP}\d{{4}}"
PHONE_PATTERN = re.compile(rf"(?<![\d\w+])(?:{_MOBILE}|{_LANDLINE})(?!\d)")
_COUNTRY = re.compile(r"^(?:\+|00)?86[ \-]?(?=1[3-9]|[1-9])")



def mask_phone(phone: str | None) -> str | None:
    """A phone number with all but its country code, first three and last four digits hidden:
    +8613924681357 -> +86139****1357, 13812345678 -> 138****5678: enough to recognise, not to dial."""
    if not phone:
        return phone
    if len(phone) <= 8:
        return phone[:2] + "*" * (len(phone) - 2)
    return phone[:-8] + "****" + phone[-4:]


def _mask_match(match: re.Match[str]) -> str:
    text = match.group(0)
    country = _COUNTRY.match(text)
    digits = re.sub(r"\D", "", text[country.end():] if country else text)
    if len(digits) < 7:
        return text
    return mask_phone(("+86" if country else "") + digits) or text


def mask_phones(text: str) -> str:
    """`text` with every phone number in it masked (Chinese mobiles with or without +86/0086/86, landlines,
    digits grouped by spaces or dashes): call 139 2468 1357 -> call 139****1357."""
    return PHONE_PATTERN.sub(_mask_match, text)


def mask_name(name: str | None) -> str | None:
    """A person's name as its first character, its length hidden too: 张伟 -> 张**, 欧阳娜娜 -> 欧**."""
    if not name:
        return name
    name = name.strip()
    return f"{name[0]}**" if name else name


def mask_email(email: str | None) -> str | None:
    """zhangwei@example.cn -> z**@example.cn."""
    if not email or "@" not in email:
        return mask_name(email)
    local, _, domain = email.partition("@")
    return f"{mask_name(local)}@{domain}"
