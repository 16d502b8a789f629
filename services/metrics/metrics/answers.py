"""How the HTTP API answers: JSON, or CSV (one flat row per row of the answer, nested keys joined with dots)
when asked with `Accept: text/csv` or `?format=csv`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response


def wants_csv(request: Request, format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "csv"
    return "text/csv" in request.headers.get("accept", "")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested JSON value as one flat row: keys joined with dots (lists of step rows become
    `<step>.count`, ...)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}{key}."))
        return out
    if isinstance(value, list) and all(isinstance(item, Mapping) and "step" in item for item in value):
        out = {}
        for item in value:
            out.update(flatten({k: v for k, v in item.items() if k != "step"}, f"{prefix}{item['step']}."))
        return out
    return {prefix.rstrip("."): value}


def csv_response(rows: Iterable[Mapping[str, Any]], filename: str) -> Response:
    flat = [flatten(row) for row in rows]
    columns: list[str] = []
    for row in flat:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(flat)
    return Response(buffer.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def answer(request: Request, format_: str | None, body: dict[str, Any], rows: Sequence[Mapping[str, Any]],
           filename: str) -> Response:
    if wants_csv(request, format_):
        return csv_response(rows, filename)
    return JSONResponse(body)
