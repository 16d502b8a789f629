"""What the end-to-end benches (speed-to-lead, scale-out) share: the leads they publish as an outside system
(CloudEvents keyed by the source's own reference, each a new person with a distinct, valid Chinese mobile
number) and the options of a run."""

from __future__ import annotations

import argparse
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers

from lead_intake.domain.cleaning import is_test_number
from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_contracts.envelope import event_type_for

HEADERS = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
MOBILE_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "183",
                   "187", "188", "130", "131", "132", "155", "156", "185", "186", "133", "153", "180", "189")


@dataclass(frozen=True, slots=True)
class Lead:
    event_id: str
    key: bytes  # the source's own reference, never the number
    payload: bytes


def mobile_numbers(seed: int) -> Iterator[str]:
    """Distinct valid Chinese mobile numbers (no test numbers), as E.164, deterministic for a seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while True:
        e164 = f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(100_000_000):08d}"
        if e164 in seen or is_test_number(e164):
            continue
        if phonenumbers.is_valid_number(phonenumbers.parse(e164)):
            seen.add(e164)
            yield e164


def envelope(topic: str, tenant: str, data: dict[str, Any], *, event_id: str | None = None,
             source: str) -> bytes:
    """A CloudEvent of `topic` for `tenant`, as compact JSON."""
    return json.dumps({"specversion": "1.0", "id": event_id or str(uuid.uuid4()), "source": source,
                       "type": event_type_for(topic), "time": datetime.now(UTC).isoformat(),
                       "datacontenttype": "application/json", "tenantid": tenant, "data": data},
                      ensure_ascii=False, separators=(",", ":")).encode()


def add_run_options(parser: argparse.ArgumentParser, *, default_out: Path) -> None:
    """The options of a run every end-to-end bench takes: drain timeout, disturbance threshold, seed, keeping
    the databases, where the report goes."""
    parser.add_argument("--timeout", type=float, default=300.0, help="Seconds a phase may take to drain.")
    parser.add_argument("--disturbed-pct", type=float, default=15.0,
                        help="CPU of processes outside the run (%% of a core) that flags a phase disturbed.")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--keep", action="store_true", help="Keep the run's databases.")
    parser.add_argument("--out", type=Path, default=default_out)
