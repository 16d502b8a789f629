"""Phone numbers and names are masked in the logs, in the JSON and the plain format alike."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from telesales_runtime.logs import (
    JsonFormatter,
    MaskingFilter,
    PlainFormatter,
    configure_logging,
    mask_value,
)
from telesales_runtime.masking import mask_name, mask_phones


@pytest.mark.parametrize(("text", "masked"), [
    ("13812345678", "138****5678"),
    ("call 13924681357 now", "call 139****1357 now"),
    ("139 2468 1357", "139****1357"),
    ("139-2468-1357", "139****1357"),
    ("+86 139 2468 1357", "+86139****1357"),
    ("+8613924681357", "+86139****1357"),
    ("8613924681357", "+86139****1357"),
    ("0086-139-2468-1357", "+86139****1357"),
    ("0431-88886666", "0431****6666"),
    ("(010) 8888 6666", "010****6666"),
    ("010-8888-6666", "010****6666"),
    ("+86 431 8888 6666", "+86431****6666"),
    ("/v1/leads?phone=13924681357&x=1", "/v1/leads?phone=139****1357&x=1"),
    ("电话：13924681357，晚上打", "电话：139****1357，晚上打"),
    ("a: 13812345678, b: 13987654321", "a: 138****5678, b: 139****4321"),
])
def test_phone_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_phones(text) == masked
    assert mask_phones(masked) == masked  # masking twice changes nothing


@pytest.mark.parametrize("text", [
    "offset 12345678901234", "2026-11-24T09:30:00+08:00", "partition 2 offset 1234567",
    "5b3f2c9e-4a1d-4c8e-9f0a-2d6b7e8c1a01", "amount_fen=1280000", "12812345678", "ts 1732512345678",
])
def test_what_is_not_a_phone_number_is_left_alone(text: str) -> None:
    assert mask_phones(text) == text


def test_names_and_nested_fields() -> None:
    assert mask_name("张伟") == "张**" and mask_name("欧阳娜娜") == "欧**" and mask_name("") == ""
    assert mask_value({"name": "张伟", "customer": {"contact_name": "李娜", "phone": "186 0431 2468"},
                       "service_name": "lead-intake", "agentName": "王五", "phones": ["13812345678", 13912345678],
                       "count": 13, "tier_name": "fresh"}) == {
        "name": "张**", "customer": {"contact_name": "李**", "phone": "186****2468"},
        "service_name": "lead-intake", "agentName": "王**", "phones": ["138****5678", "139****5678"],
        "count": 13, "tier_name": "fresh"}


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger writing to a JSON and a plain stream."""
    json_out, plain_out = io.StringIO(), io.StringIO()
    json_handler, plain_handler = logging.StreamHandler(json_out), logging.StreamHandler(plain_out)
    json_handler.setFormatter(JsonFormatter("test-svc"))
    plain_handler.setFormatter(PlainFormatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("telesales.test.masking")
    log.handlers[:] = [json_handler, plain_handler]
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log, json_out, plain_out
    log.handlers[:] = []


def test_json_and_plain_lines_are_masked(logger: tuple[logging.Logger, io.StringIO, io.StringIO]) -> None:
    log, json_out, plain_out = logger
    try:
        raise ValueError("lead 13924681357 refused")
    except ValueError:
        log.exception("lead from %s (%s) for %d fen", "139 2468 1357", "张伟", 1280000,
                      extra={"customer_name": "张伟", "phone": "13924681357", "lead": {"name": "李娜", "tel": 8613812345678},
                             "partition": 2, "offset": 13924681})
    entry = json.loads(json_out.getvalue())
    assert entry["message"] == "lead from 139****1357 (张伟) for 1280000 fen"  # free text: phones only
    assert entry["customer_name"] == "张**" and entry["phone"] == "139****1357"
    assert entry["lead"] == {"name": "李**", "tel": "+86138****5678"}
    assert entry["partition"] == 2 and entry["offset"] == 13924681
    assert "ValueError: lead 139****1357 refused" in entry["exception"]
    plain = plain_out.getvalue()
    assert "lead from 139****1357" in plain and "ValueError: lead 139****1357 refused" in plain
    assert "13924681357" not in json_out.getvalue() + plain and "2468 1357" not in plain


def test_the_service_logging_and_uvicorn_access_lines_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    access = logging.getLogger("uvicorn.access")
    saved_access = access.handlers[:], access.filters[:], access.propagate
    try:
        configure_logging("test-svc", "INFO", json_lines=True)
        logging.getLogger("svc").warning("dead-lettered", extra={"error": "phone: 13924681357 is a test number"})
        # uvicorn's access logger has a handler of its own and a formatter that needs its five arguments
        out = io.StringIO()
        handler = logging.StreamHandler(out)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.handlers[:] = [handler]
        access.propagate = False
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/v1/leads?phone=13924681357", "1.1", 200)
        assert out.getvalue().strip() == '127.0.0.1:5000 - "GET /v1/leads?phone=139****1357 HTTP/1.1" 200'
        assert any(isinstance(f, MaskingFilter) for f in access.filters)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        access.handlers[:], access.filters[:], access.propagate = saved_access
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["error"] == "phone: 139****1357 is a test number"
