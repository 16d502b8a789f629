"""The topic step of an erasure request: the person removed from the Kafka topics that carry personal data.

At request time lead-intake knows whom to look for (the phone and email asked for, the number, email and name
of the person's leads); it keeps these needles sealed on the request (`topic_needles`) until the step is done,
then clears them. A leased loop (one replica at a time) takes every pending request in one pass
(telesales_runtime.topic_eraser): partitions holding the person are truncated once every consumer group that
reads them is past the person's last record, the other dead letters of a truncated range copied forward first.
The step is done when a pass that began after every expected service answered (no service still holds the
person to publish) leaves no record of theirs on any of those topics.

Cost: a truncation removes, besides the person's records, every record before them in that partition, all of
them already processed by every consumer; replaying those events (not dead letters) from the topic is lost."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers
from aiokafka import TopicPartition
from prometheus_client import Gauge
from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from telesales_contracts.topics import ALL_TOPICS, DEAD_LETTERS
from telesales_runtime.erasure import Preparer
from telesales_runtime.kafka import client_security
from telesales_runtime.periodic import LeasedLoop
from telesales_runtime.topic_eraser import TopicEraser
from telesales_runtime.topic_log import GroupPolicy
from telesales_runtime.topic_scrub import Wanted

from .erasure_store import ErasureRequests

log = logging.getLogger(__name__)

PENDING = Gauge("telesales_topic_erasure_pending_requests", "Erasure requests whose topic step is not finished "
                "(the person may still be on a Kafka topic).")

Doc = dict[str, Any]


def erasable_topics() -> list[str]:
    """The topics the step reads: every topic carrying personal data, except the compacted do-not-call list
    (a compacted topic cannot be truncated without losing the list; it keeps blind indexes, not numbers)."""
    return [t.name for t in ALL_TOPICS if t.retention.personal_data and not t.compacted]


def country_and_national(e164: str) -> tuple[str, str] | None:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    return str(number.country_code), phonenumbers.national_significant_number(number)


def needles_of(phones: Iterable[str], emails: Iterable[str], people: Iterable[Doc]) -> Doc:
    """Whom the topic step looks for: numbers as [country code, national number] (found in any writing),
    emails and names, of the request and of the person's leads (opened)."""
    numbers = [*phones, *(p["phone_e164"] for p in people if p.get("phone_e164"))]
    return {"phones": [list(n) for n in sorted({n for n in map(country_and_national, numbers) if n})],
            "emails": sorted({e.lower() for e in [*emails, *(p.get("email") for p in people)] if e}),
            "names": sorted({p["name"].strip() for p in people if isinstance(p.get("name"), str) and p["name"].strip()})}


# The longest a topic keeps a lead's personal data: a lead lead-intake last changed longer ago than that is on no
# topic any more, so its retention erasure needs no topic step (a tenant keeping closed leads that long pays none).
TOPICS_KEEP_PERSONAL = timedelta(days=max(t.retention.days or 0 for t in ALL_TOPICS if t.retention.personal_data))


def retention_preparer(requests: ErasureRequests) -> Preparer:
    """A retention erasure (the allocator's sweep) of leads that may still be on the topics gets a topic step like a
    person's request: whom to look for is read here, in the erasure's transaction, before the leads are cleared."""
    async def prepare(tenant: str, event: Any, session: AsyncClientSession) -> None:
        data = event.data
        if data.reason != "retention" or not data.lead_ids:
            return
        people = await requests.people_of(tenant, list(data.lead_ids), session=session,
                                          changed_since=datetime.now(UTC) - TOPICS_KEEP_PERSONAL)
        if people:
            await requests.requests.update_one(
                {"_id": data.request_id},
                {"$setOnInsert": requests.retention_record(tenant, event.source, datetime.now(UTC)),
                 "$set": requests.topic_step(tenant, needles_of([], [], people))}, upsert=True, session=session)
    return prepare


def wanted(ref: str, needles: Doc) -> Wanted:
    return Wanted(ref=ref, phones=tuple((c, n) for c, n in needles.get("phones", [])),
                  emails=tuple(needles.get("emails", [])), names=tuple(needles.get("names", [])))


class MongoCopyProgress:
    """Where copying the others' dead letters of a range forward got to (collection `topic_erasure_copies`):
    a pass that crashed between the copy and the truncation does not copy again."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        self.collection = collection

    @staticmethod
    def _id(tp: TopicPartition) -> str:
        return f"{tp.topic}|{tp.partition}"

    async def copied_through(self, tp: TopicPartition) -> int:
        doc = await self.collection.find_one({"_id": self._id(tp)})
        return -1 if doc is None else int(doc["copied_through"])

    async def record(self, tp: TopicPartition, offset: int) -> None:
        await self.collection.update_one({"_id": self._id(tp)}, {"$max": {"copied_through": offset}}, upsert=True)

    async def forget(self, tp: TopicPartition) -> None:
        await self.collection.delete_one({"_id": self._id(tp)})


class GroupSightings:
    """When each consumer group was last seen with members (or first seen, empty), epoch seconds (collection
    `topic_erasure_groups`): the idle window of a stopped service's group survives lead-intake's restarts."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        self.collection = collection
        self.saved: dict[str, float] = {}

    async def seen(self) -> dict[str, float]:
        self.saved = {doc["_id"]: float(doc["seen"]) async for doc in self.collection.find({})}
        return dict(self.saved)

    async def save(self, seen: dict[str, float]) -> None:
        changed = [UpdateOne({"_id": group}, {"$max": {"seen": at}}, upsert=True)
                   for group, at in seen.items() if self.saved.get(group) != at]
        if changed:
            await self.collection.bulk_write(changed, ordered=False)
        if set(self.saved) - set(seen):  # groups the broker no longer has
            await self.collection.delete_many({"_id": {"$nin": list(seen)}})
        self.saved = dict(seen)


def build_eraser(settings: Any, progress: MongoCopyProgress, topics: list[str] | None = None) -> TopicEraser:
    policy = GroupPolicy(ignore=settings.topic_erasure_ignore_groups,
                         idle_seconds=settings.topic_erasure_group_idle_seconds)
    return TopicEraser(client={"bootstrap_servers": settings.kafka_bootstrap, **client_security(settings)},
                       topics=erasable_topics() if topics is None else topics, keep_topics=[DEAD_LETTERS.name],
                       policy=policy, progress=progress, client_id=f"{settings.service_name}-topic-erasure")


class TopicErasure(LeasedLoop):
    """Runs the topic step of every pending request, a pass per round, in one replica at a time."""

    def __init__(self, *, requests: ErasureRequests, eraser: TopicEraser, groups: GroupSightings,
                 interval_seconds: float, enabled: bool = True) -> None:
        super().__init__(requests.store.leases, "topic-erasure", interval_seconds=interval_seconds,
                         lease_seconds=max(60.0, 4 * interval_seconds), enabled=enabled)
        self.requests = requests
        self.eraser = eraser
        self.groups = groups

    async def tick(self) -> None:
        await self.run_pass()

    async def run_pass(self) -> list[str]:
        """One pass; the request ids whose topic step it finished. Without a pending request, only which
        consumer groups have members is noted (kept in `topic_erasure_groups`, so a restart keeps it)."""
        pending = await self.requests.pending_topic_steps()
        PENDING.set(len(pending))
        policy = self.eraser.policy
        policy.remember(await self.groups.seen())
        if not pending:
            await self.eraser.observe_groups()
            await self.groups.save(policy.last_active)
            return []
        result = await self.eraser.run([wanted(p["_id"], p["needles"]) for p in pending])
        await self.groups.save(policy.last_active)
        finished = []
        for step in pending:
            tally = result.tallies[step["_id"]]
            await self.requests.record_topic_pass(step["_id"], tally.counts(), tally.waiting_on)
            if step["services_done"] and result.clean(step["_id"]):
                await self.requests.finish_topic_step(step["_id"])
                finished.append(step["_id"])
        PENDING.set(len(pending) - len(finished))
        if finished:
            log.info("topic step of erasures done", extra={"requests": finished})
        return finished


def topic_step_of(settings: Any, requests: ErasureRequests, db: Any) -> TopicErasure:
    """The service's topic step, its progress and group sightings in its database."""
    return TopicErasure(requests=requests, eraser=build_eraser(settings, MongoCopyProgress(db["topic_erasure_copies"])),
                        groups=GroupSightings(db["topic_erasure_groups"]),
                        interval_seconds=settings.topic_erasure_interval_seconds,
                        enabled=settings.topic_erasure_enabled)
