"""What encryption at rest costs per lead, in CPU, on this machine: lead-intake seals a new lead's number, email,
name and notes (with two blind indexes) and its touch's extra fields, and opens them on every read; the
allocator seals and opens a number and a name (one blind index). Each is run in rounds over distinct leads;
the fastest round counts (the one least disturbed by whatever else the machine runs), the median is printed
too. No I/O: the database's share (the larger documents, the added indexes) is what the intake and allocator
benchmarks measure.

    uv run --frozen python runtime/bench/pii_crypto_cost.py [--leads 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from telesales_runtime.pii_crypto import Keyring, new_keyring_json
from telesales_runtime.pii_store import PiiFields

INTAKE = {"phone_e164": "phone", "email": "email", "name": None, "notes": None}
ALLOCATOR = {"phone_e164": "phone", "name": None}


def leads(n: int) -> list[dict[str, Any]]:
    return [{"_id": f"L{i}", "tenant_id": f"t{i % 7}", "phone_e164": f"+86139{i:08d}", "email": f"p{i}@example.cn",
             "name": f"张伟{i}", "notes": "晚上七点后方便接电话", "score": 70} for i in range(n)]


def per_second(work: Callable[[], None], n: int, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return n / min(times), n / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    keyring = Keyring.from_json(new_keyring_json())
    docs = leads(args.leads)
    extra = {"wechat_id": "zw-1990", "form_lead_id": "F-77"}
    for label, spec in (("lead-intake", INTAKE), ("allocator", ALLOCATOR)):
        fields = PiiFields(keyring, spec)
        sealed: list[dict[str, Any]] = []

        def seal(fields: PiiFields = fields, sealed: list[dict[str, Any]] = sealed, label: str = label) -> None:
            sealed.clear()
            for doc in docs:
                out = fields.seal(doc)
                if label == "lead-intake":
                    out["touches"] = [{"extra": keyring.seal(doc["tenant_id"], "touches.extra", extra)}]
                sealed.append(out)

        def open_all(fields: PiiFields = fields, sealed: list[dict[str, Any]] = sealed, label: str = label) -> None:
            for doc in sealed:
                fields.open(dict(doc))
                if label == "lead-intake":
                    keyring.open(doc["tenant_id"], "touches.extra", doc["touches"][0]["extra"])

        def index(label: str = label) -> None:
            for doc in docs:
                keyring.blind_index(doc["tenant_id"], "phone", doc["phone_e164"])
                if label == "lead-intake":
                    keyring.blind_index(doc["tenant_id"], "email", doc["email"])

        for what, work in (("seal (write)", seal), ("open (read)", open_all), ("look-up indexes", index)):
            best, median = per_second(work, len(docs), args.rounds)
            print(f"{label:12} {what:16} {best:>10,.0f} leads/s best ({1e6 / best:6.1f} µs/lead), "
                  f"{median:>10,.0f} median")


if __name__ == "__main__":
    main()
