"""Poison messages on every topic some service subscribes to: undecodable bytes and a CloudEvent that breaks
its topic's schema each land on platform.dead-lettered.v1 once per consuming service, with the original
topic, partition, offset, an error type and a reason (poison on the dead-letter topic itself is dropped with
a log line instead, so dead letters never loop); every consumer group moves past them; good events published
after the poison on the same partition are still processed. And a dead letter replayed (make
replay-dead-letters) once its cause is fixed is applied."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
import uuid

from aiokafka import AIOKafkaProducer, TopicPartition

import allocator.events
import lead_intake.events
import ledger.events
import marketplace.events
import metrics.events
from faults_support import CE_HEADERS, Platform, committed_offsets, dead_letters, event, report, wait_until

DEAD = "platform.dead-lettered.v1"
UNDECODABLE = b"\xff\xfe\x00{not json"
CONSUMERS = {
    "lead-intake": lead_intake.events.CONSUMED_TOPICS,
    "allocator": allocator.events.CONSUMED_TOPICS,
    "ledger": ledger.events.CONSUMED_TOPICS,
    "marketplace": marketplace.events.CONSUMED_TOPICS,
    "metrics": metrics.events.CONSUMED_TOPICS,
}


def group_of(service: str, topic: str) -> str:
    return f"lead-intake.{topic}" if service == "lead-intake" else service


async def test_poison_on_every_subscribed_topic_is_dead_lettered_and_the_partition_moves_on(
    platform: Platform, producer: AIOKafkaProducer,
) -> None:
    run = uuid.uuid4().hex[:8]
    tenant = f"poison-{run}"
    bootstrap = platform.infra.kafka_bootstrap
    topics = sorted({t.name for topics in CONSUMERS.values() for t in topics})
    poison: dict[str, dict[str, tuple[int, int]]] = {}  # topic -> kind -> (partition, offset)
    key = f"poison-{run}".encode()
    started = time.monotonic()
    for topic in topics:
        bad_schema = event(topic, tenant, "not an object")[1]  # a CloudEvent whose data breaks the contract
        sent = {}
        for kind, value in (("undecodable", UNDECODABLE), ("schema", bad_schema)):
            meta = await producer.send_and_wait(topic, value, key=key, headers=CE_HEADERS)
            sent[kind] = (meta.partition, meta.offset)
        poison[topic] = sent

    # good events after the poison, on the same partitions (same key)
    good_lead, body = event("leads.received.v1", tenant, {"phone": "13912873456", "channel": "微信",
                                                           "business_line": "education"})
    await producer.send_and_wait("leads.received.v1", body, key=key, headers=CE_HEADERS)
    good_agent, body = event("agents.changed.v1", tenant, {"agent_id": f"agent-{run}", "name": "张三", "role": "agent"})
    await producer.send_and_wait("agents.changed.v1", body, key=key, headers=CE_HEADERS)

    # Poison on the dead-letter topic itself is logged and dropped, not dead-lettered again (no loop); its
    # consumer must still move past it (checked below with every other group).
    expected = {(service, t.name, kind) for service, consumed in CONSUMERS.items() for t in consumed
                for kind in ("undecodable", "schema") if t.name != DEAD}
    by_place = {(topic, p, o): kind for topic, kinds in poison.items() for kind, (p, o) in kinds.items()}
    letters: dict[tuple[str, str, str], dict] = {}

    async def all_dead_lettered() -> bool:
        for data in await dead_letters(bootstrap):
            kind = by_place.get((data["original_topic"], data["partition"], data["offset"]))
            if kind is not None:
                letters[(data["service"], data["original_topic"], kind)] = data
        return expected <= set(letters)
    took = await wait_until(all_dead_lettered, 120, "a dead letter from every consumer of every topic",
                            *platform.services.values(), interval=1.0)

    for (service, topic, kind), data in letters.items():
        assert data["error"], data
        # the group that read the record (lead-intake reads each topic in a group of its own): what replay
        # --group filters on
        assert data["consumer_group"] == group_of(service, topic), data
        if kind == "undecodable":
            assert data["error_type"] == "json_error", data
            assert base64.b64decode(data["payload_b64"]) == UNDECODABLE
        else:
            assert data["error_type"] == "schema_error", data
            assert "data" in data["error"], data  # the reason names what broke
    # each poison record dead-lettered once per consuming service, not more
    counts: dict[tuple[str, str, str], int] = {}
    for data in await dead_letters(bootstrap):
        kind = by_place.get((data["original_topic"], data["partition"], data["offset"]))
        if kind is not None:
            counts[(data["service"], data["original_topic"], kind)] = counts.get(
                (data["service"], data["original_topic"], kind), 0) + 1
    assert counts == dict.fromkeys(expected, 1)

    # the good events behind the poison were processed
    async def good_processed() -> bool:
        return all([
            await platform.db("lead-intake")["inbox"].count_documents({"tenant_id": tenant, "event_id": good_lead}),
            await platform.db("lead-intake")["leads"].count_documents({"tenant_id": tenant}),
            await platform.db("allocator")["inbox"].count_documents({"tenant_id": tenant, "event_id": good_agent}),
            await platform.db("ledger")["inbox"].count_documents({"tenant_id": tenant, "event_id": good_agent}),
        ])
    await wait_until(good_processed, 60, "the good events after the poison", *platform.services.values())
    async with platform["ledger"].client(tenant) as http:
        user = (await http.get(f"/v1/users/agent-{run}")).json()
        assert user["on_roster"], user

    # and every group committed past the poison on every topic it reads
    async def committed_past_poison() -> bool:
        for service, consumed in CONSUMERS.items():
            for topic in consumed:
                partition, last = poison[topic.name]["schema"]
                tp = TopicPartition(topic.name, partition)
                committed = await committed_offsets(bootstrap, group_of(service, topic.name), [tp])
                if committed[tp] <= last:
                    return False
        return True
    await wait_until(committed_past_poison, 60, "every group's offset past the poison",
                     *platform.services.values(), interval=1.0)
    report(f"poison: {len(topics)} subscribed topics x 2 poison records -> {len(expected)} dead letters "
           f"(one per consuming service, json_error/schema_error with reason) within {took:.1f}s; good events "
           f"after them processed; every group committed past them; total {time.monotonic() - started:.1f}s")


async def test_a_dead_letter_replayed_once_its_cause_is_fixed_is_applied(
    platform: Platform, producer: AIOKafkaProducer,
) -> None:
    """A status change of an agent the allocator does not know yet is dead-lettered (unknown_agent); once the
    agent is on the roster, `python -m telesales_tools.replay --apply` (make replay-dead-letters) republishes
    it and the allocator applies it, once."""
    run = uuid.uuid4().hex[:8]
    tenant, agent = f"replay-{run}", f"agent-{run}"
    status_id, body = event("agents.status-changed.v1", tenant, {"agent_id": agent, "status": "logged_in",
                                                                 "at": "2026-11-24T09:00:00+08:00"})
    await producer.send_and_wait("agents.status-changed.v1", body, key=agent.encode(), headers=CE_HEADERS)
    bootstrap = platform.infra.kafka_bootstrap

    async def dead_lettered() -> list[dict]:
        return [d for d in await dead_letters(bootstrap) if d["tenantid"] == tenant and d["service"] == "allocator"]
    await wait_until(dead_lettered, 60, "the unknown agent's status change dead-lettered", platform["allocator"])
    [letter] = await dead_lettered()
    assert (letter["error_type"], letter["original_topic"]) == ("unknown_agent", "agents.status-changed.v1")
    assert agent in letter["error"]

    _, body = event("agents.changed.v1", tenant, {"agent_id": agent, "name": "李四", "role": "agent"})
    await producer.send_and_wait("agents.changed.v1", body, key=agent.encode(), headers=CE_HEADERS)
    agents = platform.db("allocator")["agents"]
    await wait_until(lambda: agents.count_documents({"tenant_id": tenant}), 60, "the agent on the roster",
                     platform["allocator"])

    command = [sys.executable, "-m", "telesales_tools.replay", "--bootstrap", bootstrap, "--tenant", tenant,
               "--service", "allocator", "--error-type", "unknown_agent", "--timeout", "30", "--apply"]
    replayed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert replayed.returncode == 0, replayed.stderr
    assert "republished 1 message" in replayed.stdout, replayed.stdout

    inbox = platform.db("allocator")["inbox"]
    await wait_until(lambda: inbox.count_documents({"tenant_id": tenant, "event_id": status_id}), 60,
                     "the replayed status change applied", platform["allocator"])
    [stored] = await agents.find({"tenant_id": tenant}).to_list()
    assert stored.get("status") == "logged_in", stored
    assert len(await dead_lettered()) == 1  # not dead-lettered again
    report("replay: an unknown agent's status change dead-lettered (unknown_agent), the agent added, "
           "`python -m telesales_tools.replay --apply` republished 1 message, the allocator applied it once")
