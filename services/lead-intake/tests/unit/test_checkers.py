"""Number checker adapters: the offline default and the HTTP adapter (against a mock transport)."""

from __future__ import annotations

import json

import httpx
import pytest

from lead_intake.checkers import HttpNumberChecker, OfflineNumberChecker
from lead_intake.domain import standardize_phone
from lead_intake.main import create_app
from lead_intake.settings import LeadIntakeSettings

OK, GONE, DNC = "+8613924681357", "+8618604312468", "+8613924681399"


def phones() -> list:
    return [standardize_phone(n, "CN") for n in (OK, GONE, DNC, "16012345678")]


async def test_offline_checker_uses_plan_and_do_not_call() -> None:
    results = await OfflineNumberChecker().check(phones(), {DNC})
    assert {n: r.status for n, r in results.items()} == {
        OK: "ok", GONE: "ok", DNC: "do_not_call", "+8616012345678": "invalid"}


async def test_http_checker_asks_only_numbers_that_passed_offline() -> None:
    asked: list[list[str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        numbers = json.loads(request.content)["numbers"]
        asked.append(numbers)
        return httpx.Response(200, json={"results": {OK: {"status": "ok"},
                                                      GONE: {"status": "unreachable", "detail": "empty number"}}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        results = await HttpNumberChecker("http://checker/v1/check", client).check(phones(), {DNC})
    assert asked == [[OK, GONE]]
    assert (results[OK].checker, results[OK].status) == ("http", "ok")
    assert (results[GONE].status, results[GONE].detail) == ("unreachable", "empty number")
    assert results[DNC].status == "do_not_call" and results["+8616012345678"].status == "invalid"


@pytest.mark.parametrize("response", [httpx.Response(500), httpx.Response(200, content=b"not json"),
                                      httpx.Response(200, json={"results": {OK: {"status": "maybe"}}})])
async def test_http_checker_failure_leaves_numbers_unverified(response: httpx.Response) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda request: response)) as client:
        results = await HttpNumberChecker("http://checker/v1/check", client).check(phones()[:1], set())
    assert (results[OK].checker, results[OK].status) == ("http", "unverified")


def test_http_checker_needs_a_url() -> None:
    with pytest.raises(ValueError, match="NUMBER_CHECKER_URL"):
        create_app(LeadIntakeSettings(number_checker="http"))
