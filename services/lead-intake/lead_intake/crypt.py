"""Which of lead-intake's stored fields are personal data, and how they are sealed (telesales_runtime.pii_store):
a lead's number, email, name and notes, the fields beyond the contract its touches carry (anything an outside
system sent: a second number, a WeChat id), and the numbers of the do-not-call list. Numbers and emails are
found by blind index; a document stored before encryption is found by its plain value until the rotation job
seals it."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, UpdateOne

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

    def open_listing(self, doc: Doc) -> Doc:
        self.listing.open(doc)
        doc.pop(bidx_field("phone_e164"), None)
        doc.pop(KID_FIELD, None)
        return doc

    def match_clauses(self, tenant: str, name: str, values: list[str]) -> list[Doc]:
        """Clauses of a look-up of leads by number or email: each repeats the tenant and the `$type` of the partial
        unique indexes, since MongoDB uses a partial index only for a query that implies its filter."""
        indexes = [self.leads.index(tenant, name, v) for v in values]
        return [{"tenant_id": tenant, bidx_field(name): {"$in": indexes, "$type": "string"}},
                {"tenant_id": tenant, **LEGACY, name: {"$in": values, "$type": "string"}}]

    def number_is(self, tenant: str, phones: list[str]) -> Doc:
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
                IndexModel([(KID_FIELD, ASCENDING)], name="pii_kid")]

    def rotation_targets(self, leads: Any, do_not_call: Any) -> list[RotationTarget]:
        def nested(stored: Doc, tenant: str) -> Doc:
            """The touches' and the outcome's extra fields, opened (under any key, or plain) and sealed again."""
            plain = self.open_lead(stored) or {}
            update: Doc = {"touches": [self.touch(tenant, t) for t in plain.get("touches") or ()]}
            if plain.get("outcome") is not None:
                update["outcome"] = self.outcome(tenant, plain["outcome"])
            return update

        return [RotationTarget(leads, self.leads, resealed=nested, nested=("touches", "outcome")),
                RotationTarget(do_not_call, self.listing)]
