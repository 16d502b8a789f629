"""What each of the intake's writes costs (issue 20), measured in the same run as the intake: the N lead documents
the intake stored, its inbox entries and its outbox rows (rebuilt from the qualified events it published), each
written alone into a fresh collection the way store.LeadStore.commit writes them (insert_many, ordered, batches of
1000, write concern majority), then all three in one transaction per batch as the service does.

  lead documents, _id only          the documents alone, no secondary index
  + <index>                         the same with that one index of the service (store.lead_indexes): its cost is
                                    the difference to the row above
  lead documents, every index       the service's leads collection
  inbox entries / outbox rows       alone (each has its _id only, like the service's)
  one transaction per batch         leads (every index) + inbox + outbox, as store.commit

Each figure: wall µs per document and mongod's CPU µs per document (less moved by other work on the machine), the
best of `repeats` tries of every row, the rows interleaved (a slow moment of a shared machine moves one try, not
a row). The CPU is measured around the whole write (creating the collection and its indexes included: empty, they
cost little); the wall time around the inserts only.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from pymongo import WriteConcern
from pymongo.asynchronous.client_session import AsyncClientSession

from lead_intake.store import lead_indexes
from telesales_contracts.topics import LEADS_QUALIFIED
from telesales_runtime.mongo import in_transaction
from telesales_runtime.outbox import encoded_outbox_row
from telesales_runtime.pii_crypto import load_keyring
from telesales_testkit.bench import BenchError, CpuWatch, find_pids, note

BATCH = 1000
Doc = dict[str, Any]
MAJORITY = WriteConcern("majority")


def outbox_rows(tenant: str, payloads: dict[str, bytes]) -> list[dict[str, Any]]:
    """The outbox rows the qualified events were relayed from (same topic, key, ids and bytes)."""
    rows = []
    for payload in payloads.values():
        event = json.loads(payload)
        rows.append(encoded_outbox_row(LEADS_QUALIFIED.name, event["id"], tenant, payload, event["data"]["lead_id"]))
    return rows


async def _timed(ctx: Any, label: str, write: Any, n: int) -> dict[str, Any]:
    pids = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid()})
    watch = CpuWatch({"mongod": pids["mongod"], "benchmark (writer)": [os.getpid()]}).start()
    elapsed = await write()
    cpu = watch.stop()
    mongod_s = cpu["cpu_s"].get("mongod", 0.0)
    return {"write": label, "docs": n, "elapsed_s": elapsed, "per_s": n / elapsed, "wall_us_per_doc": 1e6 * elapsed / n,
            "mongod_cpu_us_per_doc": 1e6 * mongod_s / n,
            "others_pct_of_one_core": cpu["pct_of_one_core"].get("everything else on the machine", 0.0)}


async def measure_write_costs(ctx: Any, docs: list[dict[str, Any]], n: int, repeats: int) -> dict[str, Any]:
    """Every row of the module's table, N documents each."""
    docs = [dict(d) for d in docs[:n]]
    inbox = await ctx.mongo[ctx.intake_db]["inbox"].find({"tenant_id": ctx.tenant}).limit(n).to_list()
    outbox = outbox_rows(ctx.tenant, dict(list(ctx.qualified_payloads.items())[:n]))
    if len(docs) < n or len(inbox) < n or len(outbox) < n:
        raise BenchError(f"write costs: {len(docs)} leads, {len(inbox)} inbox entries, {len(outbox)} outbox rows; "
                         f"expected {n} each")
    db_name = f"bench_costs_{ctx.run}"
    ctx.bench_dbs.append(db_name)
    db = ctx.mongo.get_database(db_name, write_concern=MAJORITY)
    indexes = lead_indexes(_sealing())
    variants: list[tuple[str, Any]] = [("lead documents, _id only", _inserts(db, "leads", docs, [])),
                                       *((f"  + index {m.document['name']}", _inserts(db, "leads", docs, [m]))
                                         for m in indexes),
                                       ("lead documents, every index", _inserts(db, "leads", docs, indexes)),
                                       ("inbox entries", _inserts(db, "inbox", inbox, [])),
                                       ("outbox rows", _inserts(db, "outbox", outbox, [])),
                                       ("leads + inbox + outbox, one transaction per batch",
                                        _transactions(ctx, db, docs, inbox, outbox, indexes))]
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeats):  # interleaved, best of the repeats: a slow moment of the machine moves one try
        for label, write in variants:
            row = await _timed(ctx, label, write, n)
            kept = best.setdefault(label, row)
            for figure in ("wall_us_per_doc", "mongod_cpu_us_per_doc"):
                kept[figure] = min(kept[figure], row[figure])
            kept["per_s"] = 1e6 / kept["wall_us_per_doc"]
            await db.drop_collection(_last[0])
    rows = list(best.values())
    base, base_cpu = rows[0]["wall_us_per_doc"], rows[0]["mongod_cpu_us_per_doc"]
    for row in rows[1:1 + len(indexes)]:
        row["index_wall_us_per_doc"] = row["wall_us_per_doc"] - base
        row["index_mongod_cpu_us_per_doc"] = row["mongod_cpu_us_per_doc"] - base_cpu
    note(f"write costs: {n:,} documents per row, best of {repeats}")
    return {"docs": n, "batch": BATCH, "repeats": repeats, "write_concern": "majority", "rows": rows}


_last: list[str] = [""]  # the collection the last write filled (dropped after it is timed)


def _inserts(db: Any, prefix: str, items: list[dict[str, Any]], models: list[Any]) -> Any:
    """A write of `items` into a fresh collection with `models` as its only secondary indexes."""
    async def write() -> float:
        coll = db[f"{prefix}_{uuid.uuid4().hex[:8]}"]
        _last[0] = coll.name
        await db.create_collection(coll.name)
        if models:
            await coll.create_indexes(models)
        started = time.perf_counter()
        for start in range(0, len(items), BATCH):
            await coll.insert_many(items[start:start + BATCH], ordered=True)
        return time.perf_counter() - started
    return write


def _transactions(ctx: Any, db: Any, docs: list[Doc], inbox: list[Doc], outbox: list[Doc], indexes: list[Any]) -> Any:
    """The three writes of a batch in one transaction each, as store.LeadStore.commit writes them."""
    async def write() -> float:
        suffix = uuid.uuid4().hex[:8]
        leads_coll, inbox_coll, outbox_coll = (db[f"{name}_{suffix}"] for name in ("tx_leads", "tx_inbox", "tx_outbox"))
        for coll in (leads_coll, inbox_coll, outbox_coll):
            await db.create_collection(coll.name)
        await leads_coll.create_indexes(indexes)
        _last[0] = leads_coll.name
        started = time.perf_counter()
        for start in range(0, len(docs), BATCH):
            async def work(session: AsyncClientSession, s: int = start) -> None:
                await leads_coll.insert_many(docs[s:s + BATCH], ordered=True, session=session)
                await inbox_coll.insert_many(inbox[s:s + BATCH], ordered=False, session=session)
                await outbox_coll.insert_many(outbox[s:s + BATCH], ordered=True, session=session)
            await in_transaction(ctx.mongo, work)
        elapsed = time.perf_counter() - started
        for coll in (inbox_coll, outbox_coll):
            await db.drop_collection(coll.name)
        return elapsed
    return write


def _sealing() -> Any:
    from lead_intake.crypt import LeadSealing

    return LeadSealing(load_keyring(inline=os.environ.get("TELESALES_PII_KEYRING"),
                                    path=os.environ.get("TELESALES_PII_KEYRING_FILE")))


def render_costs(costs: dict[str, Any] | None) -> list[str]:
    if not costs:
        return []
    lines = ["-" * 86, f"what each write costs ({costs['docs']:,} documents per row, insert_many of {costs['batch']}, "
             f"w:{costs['write_concern']}, best of {costs['repeats']}):",
             f"   {'write':<52} {'docs/s':>8} {'wall µs':>8} {'mongod CPU µs':>14}"]
    for row in costs["rows"]:
        extra = (f"   (index: {row['index_wall_us_per_doc']:+.0f} / {row['index_mongod_cpu_us_per_doc']:+.0f})"
                 if "index_wall_us_per_doc" in row else "")
        lines.append(f"   {row['write']:<52} {row['per_s']:>8,.0f} {row['wall_us_per_doc']:>8.0f} "
                     f"{row['mongod_cpu_us_per_doc']:>14.0f}{extra}")
    return lines
