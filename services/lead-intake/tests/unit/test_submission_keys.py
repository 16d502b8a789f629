"""The key lead-intake gives the leads it publishes for HTTP submissions and imports: one person's leads share it
(one partition, in order), and it never shows a personal value (a key is not encrypted anywhere)."""

from __future__ import annotations

from typing import Any

from lead_intake.settings import LeadIntakeSettings
from lead_intake.submissions import LeadSubmissions
from telesales_contracts.leads import LeadReceived
from telesales_testkit.pii import keyring


def key(submissions: LeadSubmissions, tenant: str = "t1", **data: Any) -> bytes | None:
    return submissions._partition_key(LeadReceived.model_validate(data), tenant)  # noqa: SLF001


def test_a_person_s_leads_share_a_key_that_shows_no_number_or_email() -> None:
    submissions = LeadSubmissions(None, LeadIntakeSettings(), keyring("a", "a"))  # type: ignore[arg-type]
    first = key(submissions, phone="139 2468 1357", email="zw@example.cn")
    assert first == key(submissions, phone="+86-139-2468-1357") != key(submissions, phone="186 0431 2468")
    assert first is not None and first.startswith(b"t1/")
    assert not any(part in first for part in (b"13924681357", b"2468", b"1357"))
    assert key(submissions, "t2", phone="139 2468 1357") != first  # another tenant's index
    by_email = key(submissions, email="ZW@example.cn")
    assert by_email == key(submissions, email="zw@example.cn") and by_email is not None and b"zw" not in by_email
