"""MongoDB persistence of the roster and the configuration: agents (time worked, grades), teams, the
tenant's versioned configuration, and the weekly gradings. Every query filters on the tenant."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError

from telesales_runtime.access_log import AccessLog
from telesales_runtime.consumer import Inbox
from telesales_runtime.mongo import in_transaction, is_duplicate_key, read_versioned, write_versioned
from telesales_runtime.outbox import write_outbox
from telesales_runtime.pii_crypto import Keyring

from ..domain import AllocationPolicy, RoutingRule, Tier, default_tiers
from ..domain.agent import Agent
from ..domain.lead import WON
from .crypt import AllocatorSealing

Doc = dict[str, Any]


def agent_key(tenant: str, agent_id: str) -> str:
    return f"{tenant}|{agent_id}"


def agent_of(doc: Doc) -> Agent:
    """A roster record as the rules see the agent."""
    return Agent(agent_id=doc["agent_id"], active=bool(doc.get("active", True)), role=doc.get("role", "agent"),
                 grade=doc.get("grade") or None, business_line=doc.get("business_line", "default"),
                 team_id=doc.get("team_id"), ability=float(doc.get("ability") or 1.0), status=doc.get("status"),
                 status_since=doc.get("status_since"), logged_seconds=doc.get("logged_seconds") or {},
                 talk_seconds=doc.get("talk_seconds") or {})


class StoreBase:
    """The allocator's collections."""

    def __init__(self, client: AsyncMongoClient[Doc], database: str, consumer: str, *, keyring: Keyring) -> None:
        self.client = client
        self.sealing = AllocatorSealing(keyring)  # a lead's number and name are stored sealed (crypt.py)
        self.db = client[database]
        self.leads = self.db["leads"]
        self.agents = self.db["agents"]
        self.teams = self.db["teams"]
        self.config = self.db["config"]
        self.wins = self.db["wins"]
        self.gradings = self.db["gradings"]
        self.outbox = self.db["outbox"]
        self.leases = self.db["leases"]
        self.do_not_call = self.db["do_not_call"]  # lead-intake's list as the allocator knows it
        self.inbox = Inbox(self.db["inbox"], consumer)
        self.access_log = AccessLog(self.db["access_log"])  # insert and read only (telesales_runtime.access_log)


class RosterStore(StoreBase):
    async def write_events(self, outbox_rows: list[Doc]) -> None:
        """Events that announce no stored change (one insert: atomic, then relayed like every other)."""
        await self.outbox.insert_many(outbox_rows, ordered=True)

    # ---- configuration ---------------------------------------------------------------------------------

    async def get_config(self, tenant: str, kind: str) -> tuple[Any, int]:
        return await read_versioned(self.config, f"{tenant}|{kind}")

    async def put_config(self, tenant: str, kind: str, value: Any, expected_version: int | None,
                         now: datetime) -> int | None:
        """Store a configuration value; with `expected_version`, only if nobody changed it since (else None)."""
        body = {"value": value, "updated_at": now, "tenant_id": tenant, "kind": kind}
        return await write_versioned(self.config, f"{tenant}|{kind}", body, expected_version)

    async def policy(self, tenant: str) -> tuple[AllocationPolicy, int]:
        value, version = await self.get_config(tenant, "policy")
        return (AllocationPolicy() if value is None else AllocationPolicy.model_validate(value)), version

    async def tiers(self, tenant: str) -> tuple[list[Tier], int]:
        value, version = await self.get_config(tenant, "tiers")
        if value is None:
            policy, _ = await self.policy(tenant)
            return default_tiers(policy.high_intent_score), 0
        return [Tier.model_validate(t) for t in value], version

    async def routing(self, tenant: str) -> tuple[list[RoutingRule], int]:
        value, version = await self.get_config(tenant, "routing")
        return ([] if value is None else [RoutingRule.model_validate(r) for r in value]), version

    # ---- roster ----------------------------------------------------------------------------------------

    async def get_agent(self, tenant: str, agent_id: str) -> Doc | None:
        return await self.agents.find_one({"_id": agent_key(tenant, agent_id)})

    async def get_agents(self, tenant: str, agent_ids: Sequence[str]) -> dict[str, Doc]:
        ids = [agent_key(tenant, a) for a in agent_ids]
        return {doc["agent_id"]: doc async for doc in self.agents.find({"_id": {"$in": ids}})}

    async def list_agents(self, tenant: str, *, team_id: str | None = None, role: str | None = None,
                          active: bool | None = None, limit: int = 1000, after: str | None = None,
                          team_ids: Collection[str] | None = None) -> list[Doc]:
        query: Doc = {"tenant_id": tenant}
        if team_id is not None:
            query["team_id"] = team_id
        elif team_ids is not None:
            query["team_id"] = {"$in": sorted(team_ids)}
        if role is not None:
            query["role"] = role
        if active is not None:
            query["active"] = active
        if after:
            query["agent_id"] = {"$gt": after}
        return await self.agents.find(query, sort=[("agent_id", ASCENDING)], limit=limit).to_list()

    async def upsert_agents(self, tenant: str, records: Sequence[Doc], now: datetime, *,
                            source_time: datetime | None = None, new_agent_grade: str) -> list[Doc]:
        """Create or update roster records (name, role, team, line, active, supervisor). With
        `source_time` (an HR event's time) a record older than the stored one is skipped. Returns the
        records as stored, before their change, for the ones that changed (to act on departures)."""
        before = await self.get_agents(tenant, [r["agent_id"] for r in records])
        ops = []
        for record in records:
            key = agent_key(tenant, record["agent_id"])
            query: Doc = {"_id": key}
            if source_time is not None:
                query["$or"] = [{"hr_time": {"$exists": False}}, {"hr_time": {"$lte": source_time}}]
            fields = {**record, "tenant_id": tenant, "updated_at": now}
            if source_time is not None:
                fields["hr_time"] = source_time
            ops.append(UpdateOne(query, {"$set": fields, "$setOnInsert": {
                "grade": new_agent_grade, "ability": 1.0, "created_at": now, "logged_seconds": {},
                "talk_seconds": {}, "status": None, "status_since": None}}, upsert=True))
        if ops:
            try:
                await self.agents.bulk_write(ops, ordered=False)
            except BulkWriteError as error:
                # An out-of-date HR record misses the filter and its upsert collides on _id: skipped.
                if not is_duplicate_key(error):
                    raise
        return [before[r["agent_id"]] for r in records if r["agent_id"] in before]

    async def set_agent_fields(self, tenant: str, agent_id: str, fields: Doc) -> Doc | None:
        return await self.agents.find_one_and_update({"_id": agent_key(tenant, agent_id)}, {"$set": fields},
                                                     return_document=ReturnDocument.AFTER)

    async def record_status(self, tenant: str, agent_id: str, *, status: str, at: datetime,
                            add_logged: dict[str, float], keep_days: Sequence[str]) -> None:
        """A status change: close the running session (its seconds per day) and start the new one.
        Applied only if newer than the stored status, so a late event cannot rewind it."""
        inc = {f"logged_seconds.{day}": seconds for day, seconds in add_logged.items() if seconds > 0}
        update: Doc = {"$set": {"status": status, "status_since": at}}
        if inc:
            update["$inc"] = inc
        await self.agents.update_one({"_id": agent_key(tenant, agent_id),
                                      "$or": [{"status_since": None}, {"status_since": {"$lte": at}}]}, update)
        await self._trim_days(tenant, agent_id, keep_days)

    async def _trim_days(self, tenant: str, agent_id: str, keep_days: Sequence[str]) -> None:
        doc = await self.agents.find_one({"_id": agent_key(tenant, agent_id)}, {"logged_seconds": 1, "talk_seconds": 1})
        if doc is None:
            return
        unset = {f"{field}.{day}": "" for field in ("logged_seconds", "talk_seconds")
                 for day in (doc.get(field) or {}) if day not in keep_days}
        if unset:
            await self.agents.update_one({"_id": doc["_id"]}, {"$unset": unset})

    async def add_talk_seconds(self, tenant: str, talk: dict[tuple[str, str], float]) -> None:
        """Talk time per agent and day, from calls: time worked for a dialer that sends no status."""
        per_agent: dict[str, Doc] = {}
        for (agent_id, day), seconds in talk.items():
            per_agent.setdefault(agent_id, {})[f"talk_seconds.{day}"] = seconds
        if per_agent:
            await self.agents.bulk_write([UpdateOne({"_id": agent_key(tenant, a)}, {"$inc": inc})
                                          for a, inc in per_agent.items()], ordered=False)

    # ---- teams -----------------------------------------------------------------------------------------

    async def agent_teams_of_line(self, tenant: str, business_line: str) -> set[str]:
        """The teams the agents of a business line belong to."""
        teams = await self.agents.distinct("team_id", {"tenant_id": tenant, "business_line": business_line})
        return {t for t in teams if t}

    async def get_team(self, tenant: str, team_id: str) -> Doc | None:
        return await self.teams.find_one({"tenant_id": tenant, "team_id": team_id}, {"_id": 0})

    async def list_teams(self, tenant: str) -> list[Doc]:
        return await self.teams.find({"tenant_id": tenant}, {"_id": 0}, sort=[("team_id", ASCENDING)]).to_list()

    async def put_team(self, tenant: str, team: Doc, now: datetime) -> Doc:
        return await self.teams.find_one_and_update(
            {"tenant_id": tenant, "team_id": team["team_id"]},
            {"$set": {**team, "tenant_id": tenant, "updated_at": now}, "$setOnInsert": {"created_at": now}},
            upsert=True, projection={"_id": 0}, return_document=ReturnDocument.AFTER)

    async def delete_team(self, tenant: str, team_id: str) -> bool:
        return (await self.teams.delete_one({"tenant_id": tenant, "team_id": team_id})).deleted_count == 1

    async def set_round_robin_cursor(self, tenant: str, team_id: str, cursor: str | None) -> None:
        await self.teams.update_one({"tenant_id": tenant, "team_id": team_id}, {"$set": {"round_robin_cursor": cursor}})

    async def set_round_robin_cursors(self, tenant: str, cursors: dict[str, str | None]) -> None:
        """Move the round-robin cursors of several teams (team id → cursor) in one round trip."""
        if cursors:
            await self.teams.bulk_write([UpdateOne({"tenant_id": tenant, "team_id": team_id},
                                                   {"$set": {"round_robin_cursor": cursor}})
                                         for team_id, cursor in cursors.items()], ordered=False)

    async def agents_of_teams(self, tenant: str, team_ids: Collection[str], *, role: str) -> dict[str, list[Doc]]:
        """Every agent with `role` of these teams (no page limit), by team, in agent_id order: one round trip."""
        by_team: dict[str, list[Doc]] = {team_id: [] for team_id in team_ids}
        if team_ids:
            async for doc in self.agents.find({"tenant_id": tenant, "team_id": {"$in": sorted(team_ids)}, "role": role},
                                              sort=[("agent_id", ASCENDING)], batch_size=10_000):
                by_team[doc["team_id"]].append(doc)
        return by_team

    # ---- wins and grading ------------------------------------------------------------------------------

    async def week_results(self, tenant: str, start: datetime, end: datetime) -> list[Doc]:
        pipeline = [
            # confirmed wins, in the week they were confirmed; an agent's own declaration counts nothing (wins
            # stored before confirmation existed have no `win_confirmed` and count in the week they were won)
            {"$match": {"tenant_id": tenant, "status": WON, "$or": [
                {"win_confirmed": True, "win_confirmed_at": {"$gte": start, "$lt": end}},
                {"win_confirmed": {"$exists": False}, "won_at": {"$gte": start, "$lt": end}}]}},
            {"$group": {"_id": "$won_by", "sales_fen": {"$sum": "$won_amount_fen"}, "deals": {"$sum": 1}}},
        ]
        return [row async for row in await self.leads.aggregate(pipeline)]

    async def record_grading(self, tenant: str, week: str, grades: list[Doc], outbox_rows: list[Doc],
                             now: datetime) -> bool:
        """Store a week's grades on the agents, with their events, once per week (False if done before)."""

        key = f"{tenant}|{week}"

        async def work(session: AsyncClientSession) -> bool:
            # A failed write aborts the transaction on the server: look first rather than catch the duplicate.
            if await self.gradings.find_one({"_id": key}, {"_id": 1}, session=session) is not None:
                return False
            await self.gradings.insert_one({"_id": key, "tenant_id": tenant, "week": week,
                                            "graded_at": now, "agents": len(grades)}, session=session)
            if grades:
                await self.agents.bulk_write([
                    UpdateOne({"_id": agent_key(tenant, g["agent_id"])},
                              {"$set": {"grade": g["grade"], "graded_week": week, "updated_at": now}})
                    for g in grades], ordered=False, session=session)
            await write_outbox(self.outbox, outbox_rows, session)
            return True

        try:
            return await in_transaction(self.client, work)
        except DuplicateKeyError:  # another run graded the week meanwhile
            return False

    async def last_grading(self, tenant: str) -> Doc | None:
        return await self.gradings.find_one({"tenant_id": tenant}, sort=[("week", DESCENDING)])

