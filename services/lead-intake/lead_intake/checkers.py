"""Number test adapters. The default is offline (numbering plan, type, do-not-call, see domain); an
HTTP checker (a carrier's or vendor's number-status service) can be configured instead."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import httpx

from .domain import NumberCheckResult, PhoneInfo, offline_number_check

log = logging.getLogger(__name__)


class NumberChecker(Protocol):
    name: str

    async def check(self, phones: Sequence[PhoneInfo], do_not_call: set[str]) -> dict[str, NumberCheckResult]:
        """Result per E.164 number."""
        ...


class OfflineNumberChecker:
    name = "offline"

    async def check(self, phones: Sequence[PhoneInfo], do_not_call: set[str]) -> dict[str, NumberCheckResult]:
        return {p.e164: offline_number_check(p, p.e164 in do_not_call) for p in phones if p.e164}


class HttpNumberChecker:
    """Asks an HTTP service about each valid number that passed the offline test.

    Request:  POST {url} {"numbers": ["+8613924681357", ...]}
    Response: {"results": {"+8613924681357": {"status": "ok" | "unreachable" | "invalid", "detail": "..."}}}
    When the service fails or says nothing of a number, the number is `unverified` and the lead goes on:
    a checker outage must not stop the intake.
    """

    name = "http"

    def __init__(self, url: str, client: httpx.AsyncClient, timeout: float = 2.0) -> None:
        self.url = url
        self.client = client
        self.timeout = timeout

    async def check(self, phones: Sequence[PhoneInfo], do_not_call: set[str]) -> dict[str, NumberCheckResult]:
        results = {p.e164: offline_number_check(p, p.e164 in do_not_call) for p in phones if p.e164}
        to_ask = [n for n, r in results.items() if r.status == "ok"]
        if not to_ask:
            return results
        try:
            response = await self.client.post(self.url, json={"numbers": to_ask}, timeout=self.timeout)
            response.raise_for_status()
            answers = response.json().get("results", {})
        except (httpx.HTTPError, ValueError, AttributeError) as error:
            log.warning("number checker failed; numbers stay unverified", extra={"url": self.url, "error": str(error)})
            answers = {}
        for number in to_ask:
            answer = answers.get(number) if isinstance(answers, dict) else None
            status = answer.get("status") if isinstance(answer, dict) else None
            if status in ("ok", "unreachable", "invalid"):
                results[number] = NumberCheckResult("http", status, answer.get("detail"))
            else:
                results[number] = NumberCheckResult("http", "unverified", "checker gave no answer")
        return results
