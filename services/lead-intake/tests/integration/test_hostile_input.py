"""Hostile requests to lead-intake's API: oversized and deep bodies, wrong content types, malformed JSON,
and unicode edge cases in names and phones. Each gets a clear 4xx problem+json, or is taken and
normalized (documented below); never a 500."""

from __future__ import annotations

import pytest

from intake_support import Harness, lead

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


async def test_a_body_over_the_limit_is_413_and_the_import_route_has_its_own(harness: Harness) -> None:
    limit = harness.http._transport.app.state.settings.http_max_body_bytes  # type: ignore[attr-defined]
    big = lead(notes="x" * 100, attributes={f"k{i}": "v" * 190 for i in range(limit // 190 + 10)})
    assert_problem(await harness.http.post("/v1/leads", json=big), 413)
    # an import over the JSON limit is still read (its own limit is import_max_bytes): one valid row, then
    # rows whose notes are too long (refused row by row, so the in-memory broker has one lead to process)
    rows = "phone,notes\n13924681357,ok\n" + "".join(f"1392468{i:04d},{'x' * 4100}\n" for i in range(260))
    assert len(rows.encode()) > limit
    response = await harness.http.post("/v1/leads:import", content=rows.encode(),
                                       headers={"content-type": "text/csv"})
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1 and response.json()["invalid"] == 260


async def test_wrong_content_type_malformed_and_deep_json_are_refused(harness: Harness) -> None:
    body = b'{"name": "x", "phone": "13924681357"}'
    assert_problem(await harness.http.post("/v1/leads", content=body, headers={"content-type": "text/plain"}), 415)
    for raw in (b'{"name": ', b'{"name": "\xff"}', b'{"name": "\\ud800", "phone": "13924681357"}'):
        problem = assert_problem(await harness.http.post("/v1/leads", content=raw,
                                                         headers={"content-type": "application/json"}), 400)
        assert problem["code"] == "malformed_json"
    deep = b'{"phone": "13924681357", "attributes": ' + b'{"a": ' * 40 + b'"x"' + b"}" * 41
    problem = assert_problem(await harness.http.post("/v1/leads", content=deep,
                                                     headers={"content-type": "application/json"}), 400)
    assert problem["code"] == "json_too_deep"


async def test_a_csv_with_stray_carriage_returns_or_an_open_quote_is_read_or_refused(harness: Harness) -> None:
    """Found by the API fuzzing: a bare CR inside a row made the CSV reader raise (500)."""
    response = await harness.http.post("/v1/leads:import", content=b"phone,name\r13924681357,a\rb\x00,c\n",
                                       headers={"content-type": "text/csv"})
    assert response.status_code == 202, response.text
    response = await harness.http.post("/v1/leads:import", content=b'phone,name\n"13924681357,a\n',
                                       headers={"content-type": "text/csv"})
    assert response.status_code in (202, 400), response.text
    assert response.status_code != 500


async def status_of(harness: Harness, response) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == 202, response.text
    return (await harness.http.get(response.json()["status_url"])).json()


@pytest.mark.parametrize("phone", ["１３９２４６８１３５７", "+86 139-2468-1357", "\u202d13924681357\u202c",
                                   "1392468\u200b1357", "\u00a0139 2468 1357\u3000", "＋８６ １３９２４６８１３５７"])
async def test_a_phone_typed_oddly_is_the_same_number(harness: Harness, phone: str) -> None:
    """Full-width digits, separators, NBSP/ideographic spaces, bidi marks and zero-width characters around
    or inside the digits: the number is read as the digits it shows (one dedup key)."""
    status = await status_of(harness, await harness.http.post("/v1/leads", json=lead(phone=phone)))
    assert status["status"] == "qualified", status
    stored = (await harness.http.get(f"/v1/leads/{status['lead_id']}")).json()
    assert stored["phone_e164"] == "+8613924681357"


@pytest.mark.parametrize("phone", ["\x00", "13924681357\x00", "\u202e75318642931", "１３９\u0301２４６８", "☎️☎️",
                                   "\U0001f600" * 10, "1" * 40])
async def test_a_phone_that_is_no_number_is_rejected_not_failed(harness: Harness, phone: str) -> None:
    response = await harness.http.post("/v1/leads", json=lead(phone=phone, email=None))
    if response.status_code == 202:
        status = await status_of(harness, response)
        assert status["status"] in ("rejected", "qualified"), status
    else:
        assert_problem(response, 422)


@pytest.mark.parametrize("name", ["\x00", "张\x00伟", "\u202eevil\u202c", "a\u200bb", "Ｚｈａｎｇ", "e\u0301" * 50,
                                  "\U0001f600", " \u3000 "])
async def test_odd_names_are_kept_folded(harness: Harness, name: str) -> None:
    """Names are NFKC-folded and their whitespace collapsed (full-width letters become ASCII); other
    characters are kept as sent. An all-blank name is no name."""
    status = await status_of(harness, await harness.http.post("/v1/leads", json=lead(name=name)))
    assert status["status"] == "qualified", status
    stored = (await harness.http.get(f"/v1/leads/{status['lead_id']}")).json()
    import unicodedata
    expected = " ".join(unicodedata.normalize("NFKC", name).split()) or None
    assert stored["name"] == expected


async def test_a_ten_thousand_character_name_is_422(harness: Harness) -> None:
    problem = assert_problem(await harness.http.post("/v1/leads", json=lead(name="张" * 10_000)), 422)
    assert "name" in problem["detail"]
