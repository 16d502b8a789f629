"""Schemathesis against every service's OpenAPI: every operation gets valid and invalid requests (as an
admin of a tenant of its own, so they reach the handlers), and none may answer with a server error or
with a response its document does not describe. The services are the session's (tests/conftest.py:
uvicorn on this session's broker and the stack's MongoDB and Redis).

Small and reproducible on purpose (few examples, derandomized): it runs with every `make test`."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from telesales_testkit.auth import auth_headers

EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}
TENANT = f"fuzz-{uuid.uuid4().hex[:10]}"  # a tenant of its own: other tests share these services


def fuzz_operation(operation: Any, mode: GenerationMode, base_url: str, session: requests.Session,
                   headers: dict[str, str]) -> None:
    """`operation` with EXAMPLES[mode] generated requests; raises on the first failing check."""
    checks: list[Callable[..., Any]] = [not_a_server_error]
    if mode is GenerationMode.POSITIVE:
        checks.append(response_schema_conformance)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES[mode], deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.headers = {**(case.headers or {}), **headers}
        response = case.call(base_url=base_url, session=session, timeout=30)
        # 503 problem+json is the documented answer when a dependency is down (here: the marketplace's
        # struggle push asks the metrics service, which these tests do not run at the address it knows)
        content_type = response.headers.get("content-type") or [""]  # schemathesis: a list of values per header
        dependency_down = response.status_code == 503 and content_type[0].startswith("application/problem+json")
        remaining = [c for c in checks if not (dependency_down and c is not_a_server_error)]
        if remaining:  # (an empty list would mean schemathesis's default checks)
            case.validate_response(response, checks=remaining)

    run()


def fuzz(app: FastAPI, base_url: str) -> None:
    """Every operation of `app`'s OpenAPI document, valid then invalid requests; all failures at once."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    headers = {**auth_headers("admin", "fuzz-admin", tenant=TENANT), "X-Tenant-Id": TENANT}
    failures: list[str] = []
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        # invalid requests need something to make invalid: a body, a query or a header (a path parameter
        # is a string in any case, and generating one that breaks its schema mostly fails and takes long)
        negative = bool(list(operation.body) or list(operation.query) or list(operation.headers))
        for mode in EXAMPLES if negative else [GenerationMode.POSITIVE]:
            started = time.monotonic()
            try:
                fuzz_operation(operation, mode, base_url, session, headers)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # nothing in it can be made invalid
            except Exception as error:  # noqa: BLE001 - collected, reported together below
                failures.append(f"{operation.label} ({mode.value}): {str(error)[:1500]}")
            finally:
                if (took := time.monotonic() - started) > 2:
                    print(f"slow: {operation.label} ({mode.value}) took {took:.1f} s")  # -s shows it
    assert not failures, "\n\n".join(failures)


async def fuzz_service(service: Any) -> None:
    # the requests are synchronous: they go from a thread while the service answers on the session's loop
    await asyncio.to_thread(fuzz, service.app, service.base_url)


async def test_lead_intake_answers_every_request_within_its_document(lead_intake: Any) -> None:
    await fuzz_service(lead_intake)


async def test_allocator_answers_every_request_within_its_document(allocator: Any) -> None:
    await fuzz_service(allocator)


async def test_ledger_answers_every_request_within_its_document(ledger: Any) -> None:
    await fuzz_service(ledger)


async def test_marketplace_answers_every_request_within_its_document(marketplace: Any) -> None:
    await fuzz_service(marketplace)


async def test_metrics_answers_every_request_within_its_document(metrics: Any) -> None:
    await fuzz_service(metrics)
