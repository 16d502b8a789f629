"""The allocator benchmark's seed: agents, and pooled leads in the shape the service stores (its own
construction of a qualified lead, sealed as it seals them).

With `--seed-workers N` the leads are built, sealed and encoded to BSON by N worker processes and inserted
directly, with the leads' secondary indexes dropped meanwhile and built once at the end: a 4,000,000-lead
floor is seeded in minutes. The documents are the same; the seed is not measured.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import bson
from bson.raw_bson import RawBSONDocument
from pymongo import UpdateOne

from allocator import domain
from allocator.service import LeadService
from allocator.settings import AllocatorSettings
from allocator.store import AllocatorStore, agent_key
from allocator.store.crypt import AllocatorSealing
from telesales_testkit.bench import note

INSERT_BATCH = 10_000
CHUNK = 50_000  # leads one worker builds at a time
POLICY = domain.AllocationPolicy()

LINES = ("education", "insurance", "wealth", "real_estate", "auto")
PRODUCTS = {"education": ("MBA", "在职研究生", "雅思培训", "考研辅导"), "insurance": ("重疾险", "百万医疗险", "年金险"),
            "wealth": ("基金定投", "理财顾问", "信用贷款"), "real_estate": ("新房", "二手房", "公寓"),
            "auto": ("新车试驾", "二手车", "新能源车")}
REGIONS = ("广东深圳", "广东广州", "北京朝阳", "上海浦东", "浙江杭州", "江苏南京", "四川成都", "湖北武汉", "山东济南",
           "河南郑州", "湖南长沙", "福建厦门", "陕西西安", "重庆渝北", "天津滨海")
CHANNELS = ("web", "app", "partner", "dialer", "crm_import")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力鹏宇浩"
GRADES = (("A", 0.10), ("B", 0.20), ("C", 0.40), ("D", 0.20), ("E", 0.10))


def generate_agents(n: int, rng: random.Random) -> list[dict[str, Any]]:
    grades = rng.choices([g for g, _ in GRADES], weights=[w for _, w in GRADES], k=n)
    agents = []
    for i in range(n):
        line = LINES[i % len(LINES)]
        agents.append({"agent_id": f"agent-{i:05d}", "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                       "role": "agent", "business_line": line, "team_id": f"{line}-team-{(i // len(LINES)) // 20:03d}",
                       "active": True, "grade": grades[i]})
    return agents


def generate_leads(tenant: str, first: int, n: int, agent_ids: list[str], rng: random.Random, now: datetime
                   ) -> list[dict[str, Any]]:
    """Lead documents exactly as the service stores a qualified lead (its own `_new_lead`), then aged:
    a fifth were already dialed and dropped by 1-6 agents, one in twenty bought before."""
    docs = []
    for i in range(first, first + n):
        line = rng.choices(LINES, weights=(30, 25, 15, 15, 15))[0]
        data = SimpleNamespace(
            lead_id=f"lead-{i:07d}", phone_e164=f"+861{rng.choice('3578')}{i:09d}",
            name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN), company=None, business_line=line,
            product_interest=rng.choice(PRODUCTS[line]), region=rng.choice(REGIONS),
            channel=SimpleNamespace(value=rng.choice(CHANNELS)),
            score=max(0, min(100, int(rng.gauss(55, 18)))), grade=rng.choice("ABCD"),
            attributes={"buyer": "yes"} if rng.random() < 0.05 else {}, external_refs=[], score_breakdown=[], model=None,
            consent=[])
        # the service's own construction of a qualified lead (it reads nothing of the service): the stored shape
        doc = LeadService._new_lead(None, tenant, data, [], POLICY, now, listed=False)  # type: ignore[arg-type] # noqa: SLF001
        if rng.random() < 0.20:
            drops = rng.choice((1, 1, 2, 3, 4, 6))
            droppers = rng.sample(agent_ids, drops)
            doc.update(call_count=rng.randint(1, 5), drop_count=drops, dropped_by=droppers,
                       previous_holders=droppers,
                       drops=[{"agent_id": a, "at": now - timedelta(days=rng.randint(1, 60))} for a in droppers],
                       last_call_at=now - timedelta(days=rng.randint(1, 30)))
        docs.append(doc)
    return docs


async def seed(ctx: Any, app: Any) -> dict[str, Any]:
    rng = random.Random(ctx.args.seed)
    now = datetime.now(UTC)
    store: AllocatorStore = app.state.store
    t0 = time.perf_counter()
    ctx.agents = generate_agents(ctx.args.agents, rng)
    for start in range(0, len(ctx.agents), 1000):
        chunk = ctx.agents[start:start + 1000]
        await store.upsert_agents(ctx.tenant, [{k: v for k, v in a.items() if k != "grade"} for a in chunk], now,
                                  new_agent_grade="C")
        await store.agents.bulk_write([UpdateOne({"_id": agent_key(ctx.tenant, a["agent_id"])},
                                                  {"$set": {"grade": a["grade"], "status": "logged_in",
                                                            "status_since": now - timedelta(hours=4)}})
                                       for a in chunk], ordered=False)
    agents_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    generated = 0
    agent_ids = [a["agent_id"] for a in ctx.agents]
    if ctx.args.seed_workers:
        generated = await seed_leads_fast(ctx, store, agent_ids, now)
    else:
        generated = await seed_leads(ctx, store, agent_ids, rng, now)
    leads_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    await store.ensure_indexes()
    index_s = time.perf_counter() - t2
    stats = await ctx.mongo[ctx.settings.mongo_db].command("collStats", "leads")
    return {"agents": len(ctx.agents), "leads": generated, "agents_s": agents_s, "leads_s": leads_s,
            "indexes_s": index_s, "avg_lead_bson_bytes": stats.get("avgObjSize"),
            "leads_data_mb": stats.get("size", 0) / 1e6, "leads_index_mb": stats.get("totalIndexSize", 0) / 1e6,
            "seed_workers": ctx.args.seed_workers}


async def seed_leads(ctx: Any, store: AllocatorStore, agent_ids: list[str], rng: random.Random, now: datetime) -> int:
    """Pooled leads built and inserted in this process, the indexes in place (the default)."""
    started = time.perf_counter()
    generated = 0
    for start in range(0, ctx.args.leads, 100_000):
        docs = generate_leads(ctx.tenant, start, min(100_000, ctx.args.leads - start), agent_ids, rng, now)
        generated += len(docs)
        docs = [store.sealing.leads.seal(doc) for doc in docs]  # stored as the service stores them: sealed
        for i in range(0, len(docs), INSERT_BATCH):
            await store.leads.insert_many(docs[i:i + INSERT_BATCH], ordered=False)
        note(f"seeded {generated:,} / {ctx.args.leads:,} leads [{time.perf_counter() - started:.0f}s]")
    return generated


_SEALING: AllocatorSealing | None = None


def _start_worker(settings: AllocatorSettings) -> None:
    global _SEALING  # noqa: PLW0603 - one per worker process
    _SEALING = AllocatorSealing(settings.pii_keyring_loaded())


def _build_chunk(tenant: str, first: int, n: int, agent_ids: list[str], seed: int, now: datetime) -> list[bytes]:
    """Leads [first, first + n) built, sealed and encoded in a worker process."""
    assert _SEALING is not None
    rng = random.Random(seed * 1_000_003 + first)
    return [bson.encode(_SEALING.leads.seal(doc)) for doc in generate_leads(tenant, first, n, agent_ids, rng, now)]


async def seed_leads_fast(ctx: Any, store: AllocatorStore, agent_ids: list[str], now: datetime) -> int:
    """Pooled leads built by worker processes and inserted as encoded, the secondary indexes of the leads
    dropped meanwhile (built again afterwards, by `ensure_indexes`)."""
    await store.leads.drop_indexes()
    loop = asyncio.get_running_loop()
    inserted = 0
    started = time.perf_counter()
    inserting: set[asyncio.Task[Any]] = set()
    with ProcessPoolExecutor(ctx.args.seed_workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(ctx.settings,)) as pool:
        firsts = iter(range(0, ctx.args.leads, CHUNK))

        def build(first: int) -> asyncio.Future[list[bytes]]:
            return loop.run_in_executor(pool, _build_chunk, ctx.tenant, first, min(CHUNK, ctx.args.leads - first),
                                        agent_ids, ctx.args.seed, now)

        # a few chunks ahead of the inserts, not all of them (a chunk is tens of megabytes)
        building = [build(first) for first in itertools.islice(firsts, ctx.args.seed_workers + 1)]
        while building:
            chunk = building.pop(0)
            building.extend(build(first) for first in itertools.islice(firsts, 1))
            encoded = [RawBSONDocument(raw) for raw in await chunk]
            for i in range(0, len(encoded), INSERT_BATCH):
                if len(inserting) >= 2:  # two inserts at the server while the workers build the next leads
                    done, inserting = await asyncio.wait(inserting, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()
                inserting.add(asyncio.create_task(store.leads.insert_many(encoded[i:i + INSERT_BATCH], ordered=False)))
            inserted += len(encoded)
            note(f"seeded {inserted:,} / {ctx.args.leads:,} leads [{time.perf_counter() - started:.0f}s]")
        for task in inserting:
            await task
    return inserted
