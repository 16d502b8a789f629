"""Which of lead-intake's stored fields are personal data, and how they are sealed (telesales_runtime.pii_store):
a lead's number, email, name and notes, the fields beyond the contract its touches carry (anything an outside
system sent: a second number, a WeChat id). Numbers and emails are found by blind index; a document stored before
encryption is found by its plain value until the rotation job seals it.

The do-not-call list keeps no number at all, sealed or not: only its blind index (what a look-up matches) and a
masked display. The list is kept for ever, also for people who were erased (their objection is still honoured),
so it must hold nothing that names them."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.errors import DuplicateKeyError

from telesales_runtime.masking import mask_phone, mask_phones
from telesales_runtime.pii_crypto import Keyring, key_id_of
from telesales_runtime.pii_rotation import RotationTarget
from telesales_runtime.pii_store import KID_FIELD, LEGACY, Doc, PiiFields, bidx_field, legacy_index

# A name gets no blind index: nothing looks leads up by name, and equal indexes of common names would show
# how often each occurs.
LEAD_FIELDS = {"phone_e164": "phone", "email": "email", "name": None, "notes": None}
LISTING_FIELDS = {"phone_e164": "phone"}
TOUCH_EXTRA = "touches.extra"
OUTCOME_EXTRA = "outcome.extra"  # the fields beyond the contract of the outcome an outside system reported
ANSWER_FIELDS = ("reasons", "phone_e164")  # of an inbox entry's outcome
ANSWER_PERSON = ("phone_e164", "email")  # whose arrival a rejection answers: kept as blind indexes only


def object_id(text: str) -> ObjectId:
    return ObjectId(text)


class LeadSealing:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.leads = PiiFields(keyring, LEAD_FIELDS)
        self.listing = PiiFields(keyring, LISTING_FIELDS)

    def touch(self, tenant: str, touch: dict[str, Any]) -> dict[str, Any]:
        """A touch as stored: its extra fields (whatever the source sent beyond the contract) sealed."""
        extra = touch.get("extra")
        if not extra or isinstance(extra, str):
            return touch
        return {**touch, "extra": self.keyring.seal(tenant, TOUCH_EXTRA, extra)}

    def key_marks(self, tenant: str, lead_ids: list[str]) -> list[UpdateOne]:
        """After a partial write sealed a nested value (a touch's or an outcome's extra fields): the key id it used,
        added to each lead's `pii_kid` (so the rotation job finds a value a replica still on an older key wrote),
        but only on sealed leads: a lead stored before encryption stays without one, legacy, until sealed."""
        mark = {"$addToSet": self.leads.kid_mark(tenant)}
        return [UpdateOne({"_id": lead_id, KID_FIELD: {"$exists": True}}, mark) for lead_id in dict.fromkeys(lead_ids)]

    def open_touches(self, tenant: str, touches: list[dict[str, Any]]) -> None:
        for each in touches:
            if isinstance(each.get("extra"), str):
                each["extra"] = self.keyring.open(tenant, TOUCH_EXTRA, each["extra"])

    def outcome(self, tenant: str, outcome: dict[str, Any] | None) -> dict[str, Any] | None:
        """An outcome as stored on its lead: the fields beyond the contract it came with sealed."""
        if not outcome or not outcome.get("extra") or isinstance(outcome["extra"], str):
            return outcome
        return {**outcome, "extra": self.keyring.seal(tenant, OUTCOME_EXTRA, outcome["extra"])}

    def open_lead(self, doc: Doc | None) -> Doc | None:
        if doc is None:
            return None
        self.leads.open(doc)
        if doc.get("touches"):
            self.open_touches(doc["tenant_id"], doc["touches"])
        outcome = doc.get("outcome")
        if isinstance(outcome, dict) and isinstance(outcome.get("extra"), str):
            doc["outcome"] = {**outcome, "extra": self.keyring.open(doc["tenant_id"], OUTCOME_EXTRA, outcome["extra"])}
        return doc

    def answer(self, tenant: str, outcome: dict[str, Any]) -> dict[str, Any]:
        """What became of an event, as the inbox keeps it: a rejection's reasons (their messages quote the number
        or the email) and a complaint's number sealed."""
        outcome = dict(outcome)
        person = outcome.pop("person", None) or {}
        sealed = {k: v for k, v in outcome.items() if k in ANSWER_FIELDS and v}
        # whose arrival it was, by blind index only: what an erasure of the person looks the answer up by
        indexes = {bidx_field(name): self.leads.index(tenant, name, value)
                   for name, value in person.items() if name in ANSWER_PERSON and value}
        return {**outcome, **indexes, **{k: self.keyring.seal(tenant, f"inbox.{k}", v) for k, v in sealed.items()}}

    def answer_clauses(self, tenant: str, phones: list[str], emails: list[str]) -> list[Doc]:
        """Clauses finding the inbox's answers about arrivals of these numbers or emails (by blind index)."""
        clauses = [{f"outcome.{bidx_field(name)}": {"$in": [self.leads.index(tenant, name, v) for v in values]}}
                   for name, values in (("phone_e164", phones), ("email", emails)) if values]
        return clauses

    def open_answer(self, tenant: str, outcome: dict[str, Any]) -> dict[str, Any]:
        return {k: self.keyring.open(tenant, f"inbox.{k}", v) if k in ANSWER_FIELDS and key_id_of(v) else v
                for k, v in outcome.items()}

    @staticmethod
    def listing_fields(phone_bidx: str, phone_masked: str) -> Doc:
        """What a do-not-call entry keeps of its number: the blind index and the masked display, no key id (it
        seals nothing, so the rotation job never picks it up)."""
        return {"phone_e164_bidx": phone_bidx, "phone_masked": phone_masked, KID_FIELD: []}

    def open_listing(self, doc: Doc) -> Doc:
        """The entry as the API shows it: the number masked (an entry from before, until index_only_listings
        rewrote it, has the number itself, maybe sealed), any number in its reason masked."""
        number = self.listing.open(doc).get("phone_e164")  # type: ignore[union-attr]
        masked = doc.get("phone_masked") or mask_phone(number) or ""
        reason = doc.get("reason")
        return {**{k: v for k, v in doc.items() if k not in ("phone_e164", "phone_e164_bidx", KID_FIELD)},
                "phone_masked": masked, "reason": mask_phones(reason) if reason else reason}

    async def index_only_listing(self, listings: Any, stored: Doc) -> bool:
        """An entry that still holds its number (plain, from before encryption, or sealed, from before the list
        kept blind indexes only) keeps only the blind index and the masked display; when the number has an
        index-only entry already, that one stays and this one goes."""
        tenant, number = stored["tenant_id"], self.listing.open(dict(stored)).get("phone_e164")  # type: ignore[union-attr]
        if not isinstance(number, str):
            return False
        fields = self.listing_fields(self.phone_index(tenant, number), mask_phone(number) or "")
        reason = stored.get("reason")
        try:
            await listings.update_one({"_id": stored["_id"]}, {"$set": {**fields, "reason": mask_phones(reason)
                                                                        if reason else reason},
                                                               "$unset": {"phone_e164": ""}})
        except DuplicateKeyError:
            await listings.delete_one({"_id": stored["_id"], "phone_e164": stored["phone_e164"]})
        return True

    async def index_only_listings(self, listings: Any) -> int:
        """Every entry that still holds its number, rewritten (index_only_listing); how many were."""
        done = 0
        async for stored in listings.find({"phone_e164": {"$exists": True}}):
            done += await self.index_only_listing(listings, stored)
        return done

    def match_clauses(self, tenant: str, name: str, values: list[str]) -> list[Doc]:
        """Clauses of a look-up of leads by number or email: each repeats the tenant and the `$type` of the partial
        unique indexes, since MongoDB uses a partial index only for a query that implies its filter."""
        indexes = [self.leads.index(tenant, name, v) for v in values]
        return [{"tenant_id": tenant, bidx_field(name): {"$in": indexes, "$type": "string"}},
                {"tenant_id": tenant, **LEGACY, name: {"$in": values, "$type": "string"}}]

    def phone_index(self, tenant: str, phone: str) -> str:
        """A number's blind index: what the do-not-call list (and leads.do-not-call.v1) names it by."""
        return self.listing.index(tenant, "phone_e164", phone)

    def number_is(self, tenant: str, phones: list[str]) -> Doc:
        """Listings of these numbers: by blind index, or (listed before encryption) by the plain number."""
        return self.listing.lookup(tenant, "phone_e164", phones)

    def search_fields(self, tenant: str, fields: dict[str, str]) -> Doc:
        """A search's field criteria, the personal ones by blind index (or plain value, for legacy documents)."""
        out: Doc = {k: v for k, v in fields.items() if k not in LEAD_FIELDS}
        personal = [self.leads.lookup(tenant, k, [v]) for k, v in fields.items() if k in LEAD_FIELDS]
        if personal:
            out["$and"] = personal
        return out

    def lead_indexes(self) -> list[IndexModel]:
        return [
            IndexModel([("tenant_id", ASCENDING), ("phone_e164_bidx", ASCENDING)], unique=True,
                       name="one_lead_per_phone_bidx", partialFilterExpression={"phone_e164_bidx": {"$type": "string"}}),
            IndexModel([("tenant_id", ASCENDING), ("email_bidx", ASCENDING)], unique=True,
                       name="one_lead_per_email_bidx", partialFilterExpression={"email_bidx": {"$type": "string"}}),
            IndexModel([(KID_FIELD, ASCENDING)], name="pii_kid"),  # the rotation job's look-up
            # leads stored before encryption, by their plain number and email, until the rotation job seals them
            legacy_index("tenant_id", "phone_e164", unique=True), legacy_index("tenant_id", "email", unique=True),
        ]

    def do_not_call_indexes(self) -> list[IndexModel]:
        return [IndexModel([("tenant_id", ASCENDING), ("phone_e164_bidx", ASCENDING)], unique=True,
                           name="one_listing_per_number_bidx",
                           partialFilterExpression={"phone_e164_bidx": {"$type": "string"}}),
                IndexModel([(KID_FIELD, ASCENDING)], name="pii_kid"),
                # entries stored before encryption, by their plain number, until index_only_listings rewrote them
                legacy_index("tenant_id", "phone_e164", unique=True)]

    def rotation_targets(self, leads: Any, do_not_call: Any) -> list[RotationTarget]:
        def nested(stored: Doc, tenant: str) -> Doc:
            """The touches' and the outcome's extra fields, opened (under any key, or plain) and sealed again."""
            plain = self.open_lead(stored) or {}
            update: Doc = {"touches": [self.touch(tenant, t) for t in plain.get("touches") or ()]}
            if plain.get("outcome") is not None:
                update["outcome"] = self.outcome(tenant, plain["outcome"])
            return update

        return [RotationTarget(leads, self.leads, resealed=nested, nested=("touches", "outcome")),
                # an entry written by a replica from before the list kept blind indexes only: rewritten
                RotationTarget(do_not_call, self.listing,
                               rekey=lambda stored: self.index_only_listing(do_not_call, stored))]
