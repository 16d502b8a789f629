"""Reading an import (POST /v1/leads:import): CSV with a header row or JSON lines, row by row, into valid leads
and the errors of the others. Nothing is published here (submissions.py)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from telesales_contracts.leads import LeadReceived, names_lead_field
from telesales_contracts.tolerant import name_key
from telesales_runtime.consumer import describe_validation_error
from telesales_runtime.http import Problem

from .schemas import RowError

CSV_TYPES = {"text/csv", "application/csv"}
JSONL_TYPES = {"application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines"}
_BEHAVIOUR_FIELDS = {"logins_7d", "page_view_seconds", "unpaid_order"}
_CONSENT_PREFIX = "consent_"  # CSV columns of the lead's consent: consent_statement, consent_given_at, ...
_TRUE = {"1", "true", "yes", "y", "是", "有"}
_ERRORS_LISTED = 100


def rows_of(text: str, content_type: str) -> Iterator[Any]:
    """The rows of an upload of one of CSV_TYPES or JSONL_TYPES; an unreadable row is {"__error__": why}."""
    return _csv_rows(text) if content_type in CSV_TYPES else _jsonl_rows(text)


def _csv_rows(text: str) -> Iterator[dict[str, Any]]:
    try:
        yield from _csv_rows_of(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as error:  # e.g. a quote left open at the end of the file
        raise Problem(400, "Malformed CSV", f"The CSV cannot be read: {error}.") from error


def _csv_rows_of(reader: csv.DictReader[str]) -> Iterator[dict[str, Any]]:
    if not reader.fieldnames:
        raise Problem(400, "Empty CSV", "The CSV has no header row.")
    for raw in reader:
        row: dict[str, Any] = {}
        behaviour: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        consent: dict[str, Any] = {}
        for column, value in raw.items():
            if column is None:  # more cells than header columns
                raise_row = {"__error__": "the row has more cells than the header has columns"}
                row = raise_row
                break
            value = (value or "").strip()
            if not value:
                continue
            name = column.strip()
            if names_lead_field(name):  # the contract reads it (maybe in another spelling, or an alias of the id)
                row[name] = value
            elif name_key(name).startswith(_CONSENT_PREFIX):  # consent_statement, Consent Given At, ...
                consent[name_key(name).removeprefix(_CONSENT_PREFIX)] = value
            elif name in _BEHAVIOUR_FIELDS:
                behaviour[name] = value.lower() in _TRUE if name == "unpaid_order" else value
            else:
                attributes[name[:64]] = value[:200]
        if "__error__" not in row:
            if behaviour:
                row["behaviour"] = behaviour
            if attributes:
                row["attributes"] = attributes
            if consent:  # granted: yes/no as behaviour's flags are read
                row["consent"] = {**consent, **({"granted": consent["granted"].lower() in _TRUE}
                                                if "granted" in consent else {})}
        yield row


def _jsonl_rows(text: str) -> Iterator[Any]:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as error:
            yield {"__error__": f"not JSON: {error.msg} at column {error.colno}"}


@dataclass
class ReadImport:
    valid: list[tuple[int, LeadReceived]] = field(default_factory=list)  # row number, lead
    errors: list[RowError] = field(default_factory=list)  # the first _ERRORS_LISTED
    invalid: int = 0
    rows: int = 0


async def read_import(rows: Iterable[Any], *, max_rows: int) -> ReadImport:
    """Every row validated as a lead of leads.received.v1; refused whole when it has too many rows, none, or no
    valid one."""
    out = ReadImport()
    for number, row in enumerate(rows, start=1):
        out.rows = number
        if number > max_rows:
            raise Problem(413, "Too many rows", f"An import may have at most {max_rows} rows. Split the file.")
        if number % 1000 == 0:
            await asyncio.sleep(0)  # a big file must not starve the consumers' heartbeats and the probes
        problem = row.get("__error__") if isinstance(row, dict) else "a row must be a JSON object"
        if problem is None:
            try:
                out.valid.append((number, LeadReceived.model_validate(row)))
                continue
            except ValidationError as error:
                problem = describe_validation_error(error)
        out.invalid += 1
        if len(out.errors) < _ERRORS_LISTED:
            out.errors.append(RowError(row=number, error=problem))
    if out.rows == 0:
        raise Problem(422, "Empty import", "The file has no data rows.")
    if not out.valid:
        raise Problem(422, "No valid rows", "Every row of the import is invalid.",
                      errors=[e.model_dump() for e in out.errors])
    return out
