"""Lead files for `tsctl leads import --kafka`: rows of a CSV or JSONL file as leads.received.v1 data, and
their publication."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telesales_contracts.leads import LeadReceived, names_lead_field

from .platform import Publisher, event_bytes


def read_rows(path: Path, kind: str) -> list[dict[str, Any]]:
    """Rows of a CSV (header row) or JSONL file as leads.received.v1 data: CSV columns the contract reads (in
    any spelling, and the names of the outside id) are fields, the other columns become attributes."""
    text = path.read_text(encoding="utf-8-sig")
    if kind == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {k: v for k, v in raw.items() if k and names_lead_field(k) and v not in (None, "")}
        extra = {k: v for k, v in raw.items() if k and not names_lead_field(k) and v not in (None, "")}
        if extra:
            row["attributes"] = extra
        rows.append(row)
    return rows


async def publish_rows(bootstrap: str, tenant: str, rows: Iterable[dict[str, Any]], source: str) -> tuple[int, list[str]]:
    sent, errors = 0, []
    async with Publisher(bootstrap) as publisher:
        pending = []
        for n, row in enumerate(rows, start=1):
            try:
                data = LeadReceived.model_validate(row)
            except ValueError as error:
                errors.append(f"row {n}: {str(error).splitlines()[0:3]}")
                continue
            event_id, payload = event_bytes("leads.received.v1", data, tenant=tenant, source=source,
                                            time=datetime.now(UTC))
            pending.append(await publisher.send("leads.received.v1", payload, data.phone or data.email or event_id))
            sent += 1
        await asyncio.gather(*pending)
    return sent, errors
