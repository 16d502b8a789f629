"""MongoDB persistence of lead-intake. Every document carries `tenant_id` and every query filters on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from telesales_runtime.access_log import AccessLog
from telesales_runtime.consumer import Inbox
from telesales_runtime.mongo import in_transaction, read_versioned, write_versioned
from telesales_runtime.outbox import encoded_outbox_row, outbox_row, write_outbox
from telesales_runtime.pii_crypto import Keyring

from .crypt import LeadSealing, object_id
from .domain import (
    Announcement,
    AppendTouch,
    Batch,
    ConsentPolicy,
    Decision,
    IntakeLead,
    NewLead,
    OutcomeCounts,
    PutOnDoNotCall,
    RecordOutcome,
    Ref,
    ReplaceTouch,
    ScoringWeights,
)

Doc = dict[str, Any]


class StaleMatch(Exception):
    """A lead changed since the batch looked at it (another consumer gave it the outside reference being added,
    or it no longer has the one being updated): the transaction is undone and the batch is planned again."""


@dataclass(frozen=True, slots=True)
class LeadFilter:
    """A lead search: fields that must equal, and an outside reference (system, id, or both) the lead must have."""

    fields: dict[str, str] = field(default_factory=dict)
    ref: dict[str, str] = field(default_factory=dict)


def _has(ref: Ref) -> Doc:
    return {"$elemMatch": {"source_system": ref["source_system"], "external_id": ref["external_id"]}}


# What the rules read of a stored lead (IntakeLead).
_LEAD_FIELDS = {"tenant_id": 1, "phone_e164": 1, "email": 1, "touches_count": 1, "external_refs": 1,
                "business_line": 1, "model_features": 1, "outcome": 1, "consent": 1}


def _lead_of(doc: Doc) -> IntakeLead:
    """A stored lead as the rules see it (the fields a read did not ask for take their defaults)."""
    return IntakeLead(doc["_id"], doc.get("touches_count", 1), list(doc.get("external_refs") or ()),
                      doc.get("phone_e164"), doc.get("email"), doc.get("business_line", "default"),
                      doc.get("model_features") or {}, doc.get("outcome"), list(doc.get("consent") or ()))


def _lead_document(tenant: str, lead: NewLead, sealing: LeadSealing) -> Doc:
    doc = sealing.leads.seal(lead.fields, tenant)
    doc.update({
        "_id": lead.lead_id,
        "tenant_id": tenant,
        "rule_score": lead.rule_score,
        "model_features": lead.model_features,
        "touches": [sealing.touch(tenant, t) for t in lead.touches],
        "touches_count": lead.touches_count,
        "received_at": lead.received_at,
        "created_at": lead.at,
        "updated_at": lead.at,
    })
    if lead.refs:  # stored only when there is one: the unique index on them takes leads that have one
        doc["external_refs"] = lead.refs
    return doc


def _consent_kept(where: Doc, change: AppendTouch | ReplaceTouch) -> Doc:
    """`where`, and the lead's consent still as the change read it (another consumer may have changed it)."""
    if change.consent is None:
        return where
    if change.consent_before:
        return {**where, "consent": change.consent_before}
    return {**where, "$or": [{"consent": {"$exists": False}}, {"consent": {"$size": 0}}]}


def _consent_set(change: AppendTouch | ReplaceTouch) -> Doc:
    return {} if change.consent is None else {"consent": change.consent}


def _outbox_rows(announcements: list[Announcement], *, tenant: str, source: str) -> list[Doc]:
    rows = []
    for each in announcements:
        if isinstance(each.data, BaseModel):
            event = each.topic.event(each.data, source=source, tenantid=tenant, subject=each.subject)
            rows.append(outbox_row(each.topic.name, event, each.key))
        else:  # built exactly as the topic's data: serialized once, without a second validation
            event_id, payload = each.topic.encode_trusted(each.data, source=source, tenantid=tenant,
                                                          subject=each.subject)
            rows.append(encoded_outbox_row(each.topic.name, event_id, tenant, payload, each.key))
    return rows


# Unique indexes of plain numbers and emails from before encryption: replaced by blind indexes (and, for leads
# stored before, indexes of those leads only).
OBSOLETE_LEAD_INDEXES = frozenset({"one_lead_per_phone", "one_lead_per_email"})
OBSOLETE_LISTING_INDEX = "tenant_id_1_phone_e164_1"  # every listing's number, unique (also when none: clashes)


def lead_indexes(sealing: LeadSealing) -> list[IndexModel]:
    """Every index of the leads collection (each costs every insert: `make bench-intake` measures each)."""
    return [
        # One lead per outside record (system, its id of the lead): leads without one are not indexed.
        # The id first: a search by id alone uses it too.
        IndexModel([("tenant_id", ASCENDING), ("external_refs.external_id", ASCENDING),
                    ("external_refs.source_system", ASCENDING)], unique=True, name="one_lead_per_external_ref",
                   partialFilterExpression={"external_refs.external_id": {"$exists": True}}),
        # Search filters (grade, channel, business line) scan one tenant newest first: every index
        # here costs every insert, and lead-intake's search is for look-ups, not for working pools.
        IndexModel([("tenant_id", ASCENDING), ("_id", DESCENDING)]),
        *sealing.lead_indexes(),
    ]


class LeadStore:
    def __init__(self, client: AsyncMongoClient[Doc], database: str, consumer: str, *, keyring: Keyring) -> None:
        self.client = client
        self.sealing = LeadSealing(keyring)  # personal fields are stored sealed (crypt.py)
        self.db = client[database]
        self.leads = self.db["leads"]
        self.do_not_call = self.db["do_not_call"]
        self.weights = self.db["scoring_weights"]
        self.consent_policies = self.db["consent_policies"]
        self.models = self.db["outcome_models"]
        self.outbox = self.db["outbox"]
        self.leases = self.db["leases"]
        self.inbox = Inbox(self.db["inbox"], consumer)
        self.access_log = AccessLog(self.db["access_log"])  # insert and read only (telesales_runtime.access_log)

    async def ensure_indexes(self) -> None:
        # One lead per phone and per email within a tenant: the database, not the code, guarantees
        # that concurrent deliveries of the same person never create two leads (by blind index, crypt.py).
        existing = {index["name"] async for index in await self.leads.list_indexes()}
        for name in OBSOLETE_LEAD_INDEXES & existing:  # they indexed every lead's (now sealed) value
            await self.leads.drop_index(name)
        await self.leads.create_indexes(lead_indexes(self.sealing))
        # The list keeps no number (crypt.py): the unique index of plain numbers goes, the entries that still
        # have one (plain, or sealed before) keep only its blind index and masked display.
        if OBSOLETE_LISTING_INDEX in {index["name"] async for index in await self.do_not_call.list_indexes()}:
            await self.do_not_call.drop_index(OBSOLETE_LISTING_INDEX)
        await self.sealing.index_only_listings(self.do_not_call)
        await self.do_not_call.create_indexes(self.sealing.do_not_call_indexes())

    def inbox_entry(self, tenant: str, event_id: str, answer: Doc) -> Doc:
        """The processed event id with what became of it (its personal data sealed)."""
        return self.inbox.entry(tenant, event_id, self.sealing.answer(tenant, answer))

    async def submission(self, tenant: str, event_id: str) -> Doc | None:
        """What became of an event (None: not processed yet)."""
        outcome = await self.inbox.outcome(tenant, event_id)
        return None if outcome is None else self.sealing.open_answer(tenant, outcome)

    # ---- leads -------------------------------------------------------------------------------------

    async def find_matches(self, tenant: str, phones: list[str], emails: list[str],
                           refs: list[Ref]) -> list[IntakeLead]:
        """The tenant's leads with one of the phones or emails, or one of the outside references."""
        # Each branch repeats the tenant and the `$type` of the partial unique indexes: MongoDB uses a
        # partial index only for a query that implies its filter, else it scans the tenant's leads.
        clauses: list[Doc] = []
        # A number or an email is found by its blind index, or as plain text in a lead stored before
        # encryption (until the rotation job seals it).
        for name, values in (("phone_e164", phones), ("email", emails)):
            if values:
                clauses += self.sealing.match_clauses(tenant, name, values)
        if refs:  # by id (indexed), the system checked by whoever reads the refs found
            clauses.append({"tenant_id": tenant,
                            "external_refs.external_id": {"$in": sorted({r["external_id"] for r in refs})}})
        if not clauses:
            return []
        cursor = self.leads.find({"$or": clauses}, {"tenant_id": 1, "phone_e164": 1, "email": 1, "touches_count": 1,
                                                    "external_refs": 1, "consent": 1})
        return [_lead_of(self.sealing.open_lead(doc)) async for doc in cursor]

    async def commit(self, batch: Batch, *, tenant: str, source: str) -> None:
        """New leads, touches appended (with their outside reference if they have one), touches of outside records
        replaced, processed event ids and outgoing events (from `source`): all or nothing. StaleMatch when a
        lead changed since the batch was planned."""
        new_leads = [_lead_document(tenant, lead, self.sealing) for lead in batch.new_leads.values()]
        inbox_entries = [self.inbox_entry(tenant, event_id, answer) for event_id, answer in batch.answers]
        outbox_rows = _outbox_rows(batch.announcements, tenant=tenant, source=source)

        async def work(session: AsyncClientSession) -> None:
            if new_leads:
                await self.leads.insert_many(new_leads, ordered=True, session=session)
            now = datetime.now(UTC)
            updates: list[UpdateOne] = []
            for append in batch.appends:
                ref = append.ref
                push: Doc = {"touches": {"$each": [self.sealing.touch(tenant, append.touch)], "$slice": -200}}
                where: Doc = {"_id": append.lead_id}
                if ref is not None:  # only if no other consumer gave the lead this reference meanwhile
                    push["external_refs"] = ref
                    where["external_refs"] = {"$not": _has(ref)}
                updates.append(UpdateOne(_consent_kept(where, append), {
                    "$push": push, "$inc": {"touches_count": 1}, "$set": {"updated_at": now, **_consent_set(append)}}))
            for replace in batch.replacements:
                ref = replace.ref
                updates.append(UpdateOne(_consent_kept({"_id": replace.lead_id, "external_refs": _has(ref)}, replace),
                                         {"$set": {"touches.$[mine]": self.sealing.touch(tenant, replace.touch),
                                                   "updated_at": now, **_consent_set(replace)}},
                                         array_filters=[{"mine.source_system": ref["source_system"],
                                                         "mine.external_id": ref["external_id"]}]))
            if updates:
                touched = [a.lead_id for a in batch.appends] + [r.lead_id for r in batch.replacements]
                result = await self.leads.bulk_write(updates, ordered=True, session=session)
                if result.matched_count != len(updates):
                    raise StaleMatch(f"{len(updates) - result.matched_count} lead(s) changed since they were read")
                await self.leads.bulk_write(self.sealing.key_marks(tenant, touched),
                                            ordered=False, session=session)
            await self.inbox.record(inbox_entries, session=session)
            await write_outbox(self.outbox, outbox_rows, session)

        await in_transaction(self.client, work)

    async def get_lead(self, tenant: str, lead_id: str) -> Doc | None:
        return self.sealing.open_lead(await self.leads.find_one({"tenant_id": tenant, "_id": lead_id}))

    async def intake_lead(self, tenant: str, lead_id: str) -> IntakeLead | None:
        doc = self.sealing.open_lead(await self.leads.find_one({"tenant_id": tenant, "_id": lead_id}, _LEAD_FIELDS))
        return None if doc is None else _lead_of(doc)

    async def find_lead_by_ref(self, tenant: str, ref: Ref) -> IntakeLead | None:
        doc = await self.leads.find_one({"tenant_id": tenant, "external_refs.external_id": ref["external_id"],
                                         "external_refs": _has(ref)}, _LEAD_FIELDS)
        return None if doc is None else _lead_of(self.sealing.open_lead(doc))

    async def search_leads(self, tenant: str, search: LeadFilter, limit: int, after: str | None) -> list[Doc]:
        query: Doc = {"tenant_id": tenant, **self.sealing.search_fields(tenant, search.fields)}
        if "external_id" in search.ref:  # by the index on the id; the system, when given, in the same reference
            query["external_refs.external_id"] = search.ref["external_id"]
        if search.ref:
            query["external_refs"] = {"$elemMatch": search.ref}
        if after:
            query["_id"] = {"$lt": after}
        docs = await self.leads.find(query, sort=[("_id", DESCENDING)], limit=limit).to_list()
        return [self.sealing.open_lead(doc) for doc in docs]

    # ---- do-not-call ---------------------------------------------------------------------------------

    async def do_not_call_hits(self, tenant: str, phones: list[str]) -> set[str]:
        if not phones:
            return set()
        by_index = {self.sealing.phone_index(tenant, phone): phone for phone in phones}
        cursor = self.do_not_call.find({"tenant_id": tenant, **self.sealing.number_is(tenant, phones)},
                                       {"phone_e164_bidx": 1, "phone_e164": 1})
        return {by_index.get(doc.get("phone_e164_bidx")) or doc["phone_e164"] async for doc in cursor}

    async def put_do_not_call(self, tenant: str, change: PutOnDoNotCall,
                              session: AsyncClientSession | None = None) -> Doc:
        """The number's entry, by blind index and masked display only (crypt.py; an entry that held the number
        was rewritten at start, or is by this write)."""
        now = datetime.now(UTC)
        listing = change.listing
        shown = self.sealing.listing_fields(listing.phone_bidx, listing.phone_masked)
        where = {"tenant_id": tenant, "phone_e164_bidx": listing.phone_bidx}
        await self.do_not_call.update_one(
            where, {"$set": {**shown, "reason": listing.reason, "updated_at": now}, "$unset": {"phone_e164": ""},
                    "$setOnInsert": {"added_at": now}}, upsert=True, session=session)
        return self.sealing.open_listing(await self.do_not_call.find_one(where, session=session))  # type: ignore[arg-type]

    async def list_number(self, *, tenant: str, change: PutOnDoNotCall, announcement: Announcement, source: str,
                          inbox_entry: Doc | None = None) -> Doc:
        """The number goes on the do-not-call list with its leads.do-not-call.v1 event in the outbox (and, for a
        complaint, the processed event id): all or nothing. The entry as it stands."""
        rows = _outbox_rows([announcement], tenant=tenant, source=source)

        async def work(session: AsyncClientSession) -> Doc:
            doc = await self.put_do_not_call(tenant, change, session=session)
            await write_outbox(self.outbox, rows, session)
            if inbox_entry is not None:
                await self.inbox.record([inbox_entry], session=session)
            return doc

        return await in_transaction(self.client, work)

    async def record_complaint(self, *, tenant: str, decision: Decision, source: str) -> None:
        """The complained-about number goes on the do-not-call list together with the processed event id."""
        change = decision.change
        assert isinstance(change, PutOnDoNotCall) and decision.announcement is not None
        await self.list_number(tenant=tenant, change=change, announcement=decision.announcement, source=source,
                               inbox_entry=self.inbox_entry(tenant, decision.event_id, decision.answer))

    async def unlist_number(self, *, tenant: str, phone: str, announcement: Announcement, source: str) -> bool:
        """Take the number off the list and announce it, if it was on; whether it was."""
        rows = _outbox_rows([announcement], tenant=tenant, source=source)

        async def work(session: AsyncClientSession) -> bool:
            result = await self.do_not_call.delete_many({"tenant_id": tenant, **self.sealing.number_is(tenant, [phone])},
                                                        session=session)
            if result.deleted_count < 1:
                return False
            await write_outbox(self.outbox, rows, session)
            return True

        return await in_transaction(self.client, work)

    async def forget_listing_reasons(self, tenant: str, phones: list[str], lead_ids: list[str],
                                     session: AsyncClientSession) -> int:
        """An erasure: the person's numbers stay listed (the objection is honoured), by blind index and masked
        display only; the reasons (free text that may name them) go. Run before the leads lose their indexes."""
        indexes = {self.sealing.phone_index(tenant, phone) for phone in phones}
        async for doc in self.leads.find({"tenant_id": tenant, "_id": {"$in": lead_ids}}, {"phone_e164_bidx": 1},
                                         session=session):
            indexes |= {doc["phone_e164_bidx"]} if isinstance(doc.get("phone_e164_bidx"), str) else set()
        result = await self.do_not_call.update_many(
            {"tenant_id": tenant, "phone_e164_bidx": {"$in": sorted(indexes)}, "reason": {"$ne": None}},
            {"$set": {"reason": None, "erased_at": datetime.now(UTC)}}, session=session)
        return result.modified_count

    async def get_do_not_call(self, tenant: str, phone: str) -> Doc | None:
        doc = await self.do_not_call.find_one({"tenant_id": tenant, **self.sealing.number_is(tenant, [phone])})
        return None if doc is None else self.sealing.open_listing(doc)

    async def list_do_not_call(self, tenant: str, limit: int, after: str | None) -> list[Doc]:
        """In the order the numbers were listed (numbers are kept as blind indexes: they have no order); `_id` is
        the cursor."""
        query: Doc = {"tenant_id": tenant}
        if after:
            query["_id"] = {"$gt": object_id(after)}
        docs = await self.do_not_call.find(query, sort=[("_id", ASCENDING)], limit=limit).to_list()
        return [self.sealing.open_listing(doc) for doc in docs]

    # ---- scoring configuration and the learned model --------------------------------------------------

    async def get_weights(self, tenant: str) -> tuple[ScoringWeights, int]:
        weights, version = await read_versioned(self.weights, tenant, field="weights")
        return (ScoringWeights() if weights is None else ScoringWeights.model_validate(weights)), version

    async def put_weights(self, tenant: str, weights: ScoringWeights, expected_version: int | None) -> int | None:
        """Store new weights; with `expected_version`, only if nobody changed them since (else None)."""
        body = {"weights": weights.model_dump(mode="json"), "updated_at": datetime.now(UTC), "tenant_id": tenant}
        return await write_versioned(self.weights, tenant, body, expected_version)

    async def get_consent_policy(self, tenant: str) -> tuple[ConsentPolicy, int]:
        policy, version = await read_versioned(self.consent_policies, tenant, field="policy")
        return (ConsentPolicy() if policy is None else ConsentPolicy.model_validate(policy)), version

    async def put_consent_policy(self, tenant: str, policy: ConsentPolicy, expected_version: int | None) -> int | None:
        """Store the tenant's consent policy; with `expected_version`, only if nobody changed it since (else None)."""
        body = {"policy": policy.model_dump(mode="json"), "updated_at": datetime.now(UTC), "tenant_id": tenant}
        return await write_versioned(self.consent_policies, tenant, body, expected_version)

    async def outcome_counts(self, tenant: str, business_lines: list[str]) -> dict[str, OutcomeCounts]:
        ids = [f"{tenant}|{line}" for line in business_lines]
        out = {line: OutcomeCounts() for line in business_lines}
        async for doc in self.models.find({"_id": {"$in": ids}}):
            out[doc["business_line"]] = OutcomeCounts(won=doc.get("won", 0), lost=doc.get("lost", 0),
                                                      features=doc.get("features", {}))
        return out

    async def list_models(self, tenant: str) -> list[Doc]:
        return await self.models.find({"tenant_id": tenant}, {"_id": 0}).to_list()

    async def record_outcome(self, *, tenant: str, decision: Decision) -> None:
        """The outcome on the lead, its counts into the business line's model, and the processed event id."""
        change = decision.change
        assert isinstance(change, RecordOutcome)
        inbox_entry = self.inbox_entry(tenant, decision.event_id, decision.answer)

        async def work(session: AsyncClientSession) -> None:
            for line, increments in ((change.business_line, change.increments), change.undo or ("", {})):
                if not increments:
                    continue
                await self.models.update_one(
                    {"_id": f"{tenant}|{line}"},
                    {"$inc": increments, "$set": {"tenant_id": tenant, "business_line": line,
                                                  "updated_at": datetime.now(UTC)}},
                    upsert=True, session=session)
            await self.leads.update_one({"tenant_id": tenant, "_id": change.lead_id},
                                        {"$set": {"outcome": self.sealing.outcome(tenant, change.outcome)}},
                                        session=session)
            await self.leads.bulk_write(self.sealing.key_marks(tenant, [change.lead_id]), session=session)
            await self.inbox.record([inbox_entry], session=session)

        await in_transaction(self.client, work)
