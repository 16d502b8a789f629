"""What the scale-out benchmark sends and watches: the leads an outside system publishes on leads.received.v1
(each a new person, so nothing merges), and every event of the run's tenant on the topics metrics consumes
(leads.qualified.v1 and the ledger's answers among them), read from the beginning with their Kafka timestamps."""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from scale_checks import Answer, QualifiedRead

from console.notifications import SOURCE_TOPICS as CONSOLE_TOPICS
from console.notifications import drafts_of
from metrics.events import CONSUMED_TOPICS as METRICS_TOPICS
from telesales_contracts.topics import (
    DEAD_LETTERS,
    LEADS_QUALIFIED,
    LEADS_RECEIVED,
    LEDGER_TRANSFER_POSTED,
    LEDGER_TRANSFER_REJECTED,
)
from telesales_testkit.tenant_reader import TenantReader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/: what the end-to-end benches share
from bench_leads import HEADERS, Lead, envelope, mobile_numbers  # noqa: E402

CHANNELS = ("百度SEM", "抖音", "微信", "官网表单", "400热线")
PRODUCTS = ("MBA", "雅思培训", "重疾险", "基金定投", "新车试驾")


class LeadMaker:
    def __init__(self, tenant: str, seed: int) -> None:
        self.tenant = tenant
        self.rng = random.Random(seed)
        self.numbers = mobile_numbers(seed)
        self.made = 0

    def make(self, count: int) -> list[Lead]:
        return [self.one() for _ in range(count)]

    def one(self) -> Lead:
        self.made += 1
        reference = f"scale-{self.made:07d}"
        data: dict[str, Any] = {
            "name": f"客户{self.made}", "phone": next(self.numbers)[3:], "channel": self.rng.choice(CHANNELS),
            "business_line": "scale-out", "product_interest": self.rng.choice(PRODUCTS),
            "source_system": "bench-scale-out", "external_id": reference,
        }
        event_id = str(uuid.uuid4())
        payload = envelope(LEADS_RECEIVED.name, self.tenant, data, event_id=event_id, source="/bench/scale-out")
        return Lead(event_id, reference.encode(), payload)


async def send_leads(producer: AIOKafkaProducer, leads: list[Lead], rate: float | None,
                     record: Callable[[Lead, float], None]) -> None:
    """Every lead on leads.received.v1 at `rate` per second on a fixed schedule, or as fast as the producer goes;
    `record(lead, when)` as each is handed over."""
    start = time.time() + 0.05
    pending = []
    for i, lead in enumerate(leads):
        if rate:
            delay = start + i / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        elif i % 500 == 499:
            await asyncio.sleep(0)
        record(lead, time.time())
        pending.append(await producer.send(LEADS_RECEIVED.name, lead.payload, key=lead.key, headers=HEADERS))
    await asyncio.gather(*pending)


METRICS_NAMES = {t.name for t in METRICS_TOPICS}
CONSOLE_BY_NAME = {t.name: t for t in CONSOLE_TOPICS}


class Reader(TenantReader):
    """Every event of the tenant on the topics metrics and the console consume: the distinct ids on metrics'
    (what metrics must have counted), the notifications the console must have stored (its own pure mapping,
    `drafts_of`, over the events on its topics), each leads.qualified.v1 record, the ledger's answers, the
    dead letters."""

    def __init__(self, bootstrap: str, tenant: str) -> None:
        super().__init__(bootstrap, tenant, METRICS_NAMES | CONSOLE_BY_NAME.keys())
        self.event_ids: set[str] = set()
        self.notifications: set[str] = set()  # the ids of the notifications the console must store
        self.qualified: list[QualifiedRead] = []
        self.answers: list[Answer] = []
        self.dead_letters = 0

    def seen(self, record: Any, event: dict[str, Any]) -> None:
        if record.topic in CONSOLE_BY_NAME:
            parsed = CONSOLE_BY_NAME[record.topic].parse(record.value)
            self.notifications.update(d.id for d in drafts_of(record.topic, parsed))
        if record.topic not in METRICS_NAMES:
            return
        self.event_ids.add(event["id"])
        if record.topic == LEADS_QUALIFIED.name:
            data = event["data"]
            self.qualified.append(QualifiedRead(event["id"], data["touch"]["event_id"], data["lead_id"],
                                                record.timestamp / 1000))
        elif record.topic in (LEDGER_TRANSFER_POSTED.name, LEDGER_TRANSFER_REJECTED.name):
            posted = record.topic == LEDGER_TRANSFER_POSTED.name
            self.answers.append(Answer(event["id"], event["data"]["transfer_id"], posted, record.timestamp / 1000))
        elif record.topic == DEAD_LETTERS.name:
            self.dead_letters += 1
