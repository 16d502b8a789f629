"""The service layer of the marketplace: takes validated requests and events, asks the domain, and writes
each change with the events announcing it in one MongoDB transaction (the outbox), plus, for consumed
events, the event id (the inbox)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from prometheus_client import Counter
from pydantic import BaseModel
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from telesales_contracts import Topic
from telesales_contracts.ledger import PurchaseRejection, TransferRequested
from telesales_contracts.marketplace import (
    ActivityKind,
    DeepLearnerFlagged,
    FunnelStep,
    LearnProgressed,
    PurchaseCompleted,
    PurchaseRefused,
    PurchaseRequested,
    RecommendedTip,
    StruggleRecommended,
    TipDelisted,
    TipForwarded,
    TipListed,
    TipRated,
    TipReviewed,
    TipSubmitted,
    TipVisited,
    UserDailyActive,
)
from telesales_contracts.topics import (
    LEDGER_TRANSFER_REQUESTED,
    MARKETPLACE_DAILY_ACTIVE,
    MARKETPLACE_DEEP_LEARNER_FLAGGED,
    MARKETPLACE_LEARN_PROGRESSED,
    MARKETPLACE_PURCHASE_COMPLETED,
    MARKETPLACE_PURCHASE_REFUSED,
    MARKETPLACE_PURCHASE_REQUESTED,
    MARKETPLACE_STRUGGLE_RECOMMENDED,
    MARKETPLACE_TIP_DELISTED,
    MARKETPLACE_TIP_FORWARDED,
    MARKETPLACE_TIP_LISTED,
    MARKETPLACE_TIP_RATED,
    MARKETPLACE_TIP_REVIEWED,
    MARKETPLACE_TIP_SUBMITTED,
    MARKETPLACE_TIP_VISITED,
)
from telesales_runtime.consumer import Delivery
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.observability import MESSAGES_CONSUMED
from telesales_runtime.outbox import outbox_row, write_outbox

from . import domain
from .domain import DomainError, PurchaseStatus, TipStatus, VersionStatus
from .search_feed import SearchIndexFeed
from .settings import MarketplaceSettings
from .store import Doc, MarketplaceStore, Session, scoped, version_key

log = logging.getLogger(__name__)
T = TypeVar("T")

PURCHASES = Counter("marketplace_purchases_total", "Purchases by outcome (requested, granted, refused).",
                    ["outcome"])

# The content fields of a version, and those copied to the tip for browsing once listed.
CONTENT_FIELDS = ("title", "summary", "body", "stage", "product_line", "tags", "price")
LISTED_FIELDS = ("title", "summary", "stage", "product_line", "tags", "price", "media")
PRIVILEGED_ROLES = ("reviewer", "operator")


def utcnow() -> datetime:
    """Now, to the millisecond MongoDB keeps (so a stored time reads back equal)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Actor:
    """Who calls: the token's sub, and its role here: operator (reviews; operators and admin) or agent."""

    user_id: str
    role: str = "agent"

    @property
    def privileged(self) -> bool:
        return self.role in PRIVILEGED_ROLES


@dataclass(frozen=True)
class Result:
    doc: Doc
    replayed: bool


class Outbox(list[Doc]):
    """The events one transaction writes."""


class MarketplaceService:
    def __init__(self, settings: MarketplaceSettings, store: MarketplaceStore, dead_letters: DeadLetterPublisher,
                 notify_outbox: Callable[[], None], ledger_http: httpx.AsyncClient | None = None,
                 search_feed: SearchIndexFeed | None = None) -> None:
        self.settings = settings
        self.store = store
        self.search_feed = search_feed or SearchIndexFeed(store)
        self.dead_letters = dead_letters
        self.notify_outbox = notify_outbox
        self.tz = settings.tz
        self.ledger_http = ledger_http

    # ---- plumbing ------------------------------------------------------------------------------------

    def _event(self, out: Outbox, topic: Topic, data: BaseModel, tenant: str, key: str) -> None:
        event = topic.event(data, source=self.settings.source, tenantid=tenant, subject=key)
        out.append(outbox_row(topic.name, event, key))

    async def _commit(self, work: Callable[[Session, Outbox], Awaitable[T]]) -> T:
        """Run `work` in one transaction with the events it adds to its outbox; wake the relay after."""
        out = Outbox()

        async def run(session: Session) -> T:
            out.clear()
            result = await work(session, out)
            await write_outbox(self.store.outbox, list(out), session)
            return result

        result = await self.store.transaction(run)
        if out:
            self.notify_outbox()
        return result

    async def _daily_active(self, session: Session, out: Outbox, tenant: str, user_id: str, kind: ActivityKind,
                            now: datetime) -> None:
        """Signal the user's first activity of the day (in the marketplace's time zone), once."""
        day = domain.business_day(now, self.tz)
        written = await self.store.daily_active.update_one(
            {"_id": scoped(tenant, f"{user_id}|{day}")},
            {"$setOnInsert": {"tenant_id": tenant, "user_id": user_id, "day": day, "first_activity": kind.value,
                              "at": now}}, upsert=True, session=session)
        if written.upserted_id is not None:
            self._event(out, MARKETPLACE_DAILY_ACTIVE, UserDailyActive(user_id=user_id, day=day, first_activity=kind,
                                                                       at=now), tenant, user_id)

    # ---- tips and versions ---------------------------------------------------------------------------

    async def _tip_of_author(self, tenant: str, tip_id: str, actor: Actor, session: Session | None = None) -> Doc:
        tip = await self.store.tip(tenant, tip_id, session)
        if tip is None:
            raise DomainError("unknown_tip", f"there is no tip {tip_id!r}")
        if tip["author_id"] != actor.user_id:
            raise DomainError("not_author", "only the tip's author may do this")
        return tip

    async def _version(self, tenant: str, tip_id: str, version: int, session: Session | None = None) -> Doc:
        doc = await self.store.version(tenant, tip_id, version, session)
        if doc is None:
            raise DomainError("unknown_version", f"tip {tip_id!r} has no version {version}")
        return doc

    def _version_doc(self, tenant: str, tip_id: str, version: int, author_id: str, content: Doc,
                     now: datetime) -> Doc:
        return {"_id": version_key(tenant, tip_id, version), "tenant_id": tenant, "tip_id": tip_id,
                "version": version, "author_id": author_id, "status": VersionStatus.DRAFT.value,
                **{k: content.get(k) for k in CONTENT_FIELDS}, "media": content.get("media"),
                "created_at": now, "updated_at": now, "reviews": []}

    async def create_tip(self, tenant: str, actor: Actor, content: Doc, tip_id: str | None = None) -> Doc:
        """A new tip with version 1 as a draft."""
        tip_id = tip_id or uuid.uuid4().hex[:16]
        now = utcnow()

        async def work(session: Session, out: Outbox) -> Doc:
            tip = {"_id": scoped(tenant, tip_id), "tenant_id": tenant, "tip_id": tip_id, "author_id": actor.user_id,
                   "status": TipStatus.UNLISTED.value, "latest_version": 1, "listed_version": None,
                   "rating_sum": 0, "rating_count": 0, "rating_avg": None, "rating_rank": -1, "sales": 0, "visits": 0,
                   "created_at": now}
            try:
                await self.store.tips.insert_one(tip, session=session)
            except DuplicateKeyError as error:
                raise DomainError("tip_exists", f"tip {tip_id!r} exists already") from error
            await self.store.versions.insert_one(self._version_doc(tenant, tip_id, 1, actor.user_id, content, now),
                                                 session=session)
            return tip

        try:
            return await self._commit(work)
        except DuplicateKeyError as error:
            raise DomainError("tip_exists", f"tip {tip_id!r} exists already") from error

    async def edit_version(self, tenant: str, actor: Actor, tip_id: str, version: int, changes: Doc) -> Doc:
        """Change a draft (or a rejected version, which goes back to draft)."""
        await self._tip_of_author(tenant, tip_id, actor)
        doc = await self._version(tenant, tip_id, version)
        status = domain.check_editable(doc["status"])
        updated = await self.store.versions.find_one_and_update(
            {"_id": doc["_id"], "status": doc["status"]},
            {"$set": {**{k: v for k, v in changes.items() if k in CONTENT_FIELDS}, "status": status,
                      "updated_at": utcnow()}}, return_document=ReturnDocument.AFTER)
        if updated is None:
            raise DomainError("version_changed", "the version changed meanwhile; read it again")
        return updated

    async def new_version(self, tenant: str, actor: Actor, tip_id: str, changes: Doc) -> Doc:
        """A new draft version of a tip, starting from its latest (approved) version. The listed version
        stays listed until this one is approved."""
        now = utcnow()

        async def work(session: Session, out: Outbox) -> Doc:
            tip = await self._tip_of_author(tenant, tip_id, actor, session)
            latest = await self._version(tenant, tip_id, tip["latest_version"], session)
            domain.check_new_version(latest["status"])
            number = tip["latest_version"] + 1
            content = {k: latest.get(k) for k in (*CONTENT_FIELDS, "media")} | {
                k: v for k, v in changes.items() if k in CONTENT_FIELDS}
            doc = self._version_doc(tenant, tip_id, number, actor.user_id, content, now)
            await self.store.versions.insert_one(doc, session=session)
            done = await self.store.tips.update_one({"_id": tip["_id"], "latest_version": tip["latest_version"]},
                                                    {"$set": {"latest_version": number}}, session=session)
            if not done.matched_count:
                raise DomainError("version_changed", "another version was created meanwhile")
            return doc

        return await self._commit(work)

    def _facts(self, version: Doc) -> Doc:
        return {"tip_id": version["tip_id"], "version": version["version"], "author_id": version["author_id"],
                "title": version["title"], "stage": version["stage"], "product_line": version["product_line"],
                "tags": version.get("tags") or [], "price": version["price"]}

    async def submit(self, tenant: str, actor: Actor, tip_id: str, version: int) -> Doc:
        now = utcnow()

        async def work(session: Session, out: Outbox) -> Doc:
            await self._tip_of_author(tenant, tip_id, actor, session)
            doc = await self._version(tenant, tip_id, version, session)
            domain.check_submittable(doc["status"])
            fields = {"status": VersionStatus.SUBMITTED.value, "submitted_at": now, "updated_at": now}
            await self.store.versions.update_one({"_id": doc["_id"], "status": doc["status"]}, {"$set": fields},
                                                 session=session)
            self._event(out, MARKETPLACE_TIP_SUBMITTED, TipSubmitted(**self._facts(doc), submitted_at=now), tenant,
                        tip_id)
            return doc | fields

        return await self._commit(work)

    async def review(self, tenant: str, actor: Actor, tip_id: str, version: int, checks: dict[str, bool],
                     comment: str | None) -> Doc:
        """Approve (all checklist items pass: the version is listed, replacing the listed one) or reject
        (naming the failed items)."""
        if actor.role not in PRIVILEGED_ROLES:
            raise DomainError("not_reviewer", "only reviewers review tips")
        outcome = domain.review(checks)
        now = utcnow()

        async def work(session: Session, out: Outbox) -> Doc:
            tip = await self.store.tip(tenant, tip_id, session)
            if tip is None:
                raise DomainError("unknown_tip", f"there is no tip {tip_id!r}")
            doc = await self._version(tenant, tip_id, version, session)
            domain.check_reviewable(doc["status"], doc["author_id"], actor.user_id)
            entry = {"reviewer_id": actor.user_id, "decision": outcome.decision,
                     "failed_checks": list(outcome.failed_checks), "comment": comment, "reviewed_at": now}
            fields = {"status": outcome.decision, "review": entry, "updated_at": now}
            await self.store.versions.update_one({"_id": doc["_id"], "status": VersionStatus.SUBMITTED.value},
                                                 {"$set": fields, "$push": {"reviews": entry}}, session=session)
            facts = self._facts(doc)
            self._event(out, MARKETPLACE_TIP_REVIEWED, TipReviewed(
                **facts, reviewer_id=actor.user_id, decision=outcome.decision, failed_checks=list(outcome.failed_checks),
                comment=comment, reviewed_at=now), tenant, tip_id)
            if outcome.decision == "approved":
                listing = domain.approve(tip.get("listed_version"), version)
                listed = {k: doc.get(k) for k in LISTED_FIELDS}
                terms = domain.search_tokens(doc["title"], doc.get("summary"), doc.get("body"), *(doc.get("tags") or []))
                await self.store.tips.update_one({"_id": tip["_id"]}, {"$set": {
                    **listed, "status": TipStatus.LISTED.value, "listed_version": listing.listed_version,
                    "listed_at": now, "search_terms": terms}}, session=session)
                self._event(out, MARKETPLACE_TIP_LISTED, TipListed(
                    **facts, replaced_version=listing.replaced_version, listed_at=now), tenant, tip_id)
            return doc | fields

        reviewed = await self._commit(work)
        await self.search_feed.refresh(tenant, tip_id)
        return reviewed

    async def delist(self, tenant: str, actor: Actor, tip_id: str, reason: str | None) -> Doc:
        now = utcnow()

        async def work(session: Session, out: Outbox) -> Doc:
            tip = await self.store.tip(tenant, tip_id, session)
            if tip is None:
                raise DomainError("unknown_tip", f"there is no tip {tip_id!r}")
            if tip["author_id"] != actor.user_id and actor.role != "operator":
                raise DomainError("not_author", "only the author or an operator delists a tip")
            domain.check_delistable(tip["status"])
            fields = {"status": TipStatus.DELISTED.value, "delisted_at": now, "delist_reason": reason}
            await self.store.tips.update_one({"_id": tip["_id"], "status": TipStatus.LISTED.value},
                                             {"$set": fields}, session=session)
            self._event(out, MARKETPLACE_TIP_DELISTED, TipDelisted(
                tip_id=tip_id, version=tip["listed_version"], author_id=tip["author_id"], delisted_by=actor.user_id,
                reason=reason, delisted_at=now), tenant, tip_id)
            return tip | fields

        delisted = await self._commit(work)
        await self.search_feed.refresh(tenant, tip_id)
        return delisted

    # ---- media ---------------------------------------------------------------------------------------

    async def upload_media(self, tenant: str, actor: Actor, tip_id: str, version: int, *, filename: str,
                           content_type: str, chunks: AsyncIterator[bytes]) -> Doc:
        """Store a version's media in GridFS (an editable version only) and point the version at it. A
        file it replaces is deleted unless another version still uses it."""
        await self._tip_of_author(tenant, tip_id, actor)
        doc = await self._version(tenant, tip_id, version)
        domain.check_editable(doc["status"])
        stream = self.store.media.open_upload_stream(filename, metadata={
            "tenant_id": tenant, "tip_id": tip_id, "version": version, "content_type": content_type})
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > self.settings.media_max_bytes:
                    raise DomainError("media_too_large", f"media may have at most {self.settings.media_max_bytes} bytes")
                await stream.write(chunk)
        except BaseException:
            await stream.abort()
            raise
        await stream.close()
        if size == 0:
            await self.store.media.delete(stream._id)
            raise DomainError("empty_media", "the upload has no bytes")
        media = {"file_id": stream._id, "content_type": content_type, "length": size, "filename": filename}
        updated = await self.store.versions.find_one_and_update(
            {"_id": doc["_id"], "status": {"$in": [VersionStatus.DRAFT.value, VersionStatus.REJECTED.value]}},
            {"$set": {"media": media, "status": VersionStatus.DRAFT.value, "updated_at": utcnow()}})
        if updated is None:
            await self.store.media.delete(stream._id)
            raise DomainError("version_not_editable", "the version was submitted meanwhile")
        old = (updated.get("media") or {}).get("file_id")
        if old is not None and not await self.store.versions.count_documents({"media.file_id": old}, limit=1):
            await self.store.media.delete(old)
        return updated | {"media": media}

    async def search(self, tenant: str, *, tokens: list[str], filters: Doc, sort: str, limit: int,
                     after: tuple[Any, str] | None) -> list[Doc]:
        """Listed tips for browsing: ranked by relevance in the in-memory index (search_index.py), in the
        other orders by MongoDB's indexes. `after` is the last (sort value, _id) of the previous page."""
        if sort != "relevance":
            return await self.store.search(tenant, tokens=tokens, filters=filters, sort=sort, limit=limit, after=after)
        cursor = None
        if after is not None:
            score, last_id = after
            if not isinstance(score, int) or isinstance(score, bool):
                raise DomainError("bad_cursor", "the cursor's score is not a number of matched terms")
            cursor = (score, last_id.partition("|")[2])
        hits = self.search_feed.index.search(tenant, tokens, filters, after=cursor, limit=limit)
        docs = await self.store.tips_by_ids(tenant, [hit.tip_id for hit in hits])
        scores = {hit.tip_id: hit.score for hit in hits}
        return [doc | {"score": scores[doc["tip_id"]]} for doc in docs]

    async def has_access(self, tenant: str, tip: Doc, actor: Actor | None) -> bool:
        """The author, reviewers and operators, and buyers whose purchase was paid (posted by the ledger)."""
        if actor is None:
            return False
        if actor.privileged or tip["author_id"] == actor.user_id:
            return True
        purchase = await self.store.purchase(tenant, domain.purchase_id(actor.user_id, tip["tip_id"]))
        return purchase is not None and purchase["status"] == PurchaseStatus.GRANTED

    async def readable_version(self, tenant: str, actor: Actor | None, tip_id: str, version: int | None) -> Doc:
        """A version (the listed one when None) with its body and media, for someone allowed to read it:
        buyers read listed and later approved versions; authors, reviewers and operators any."""
        tip = await self.store.tip(tenant, tip_id)
        if tip is None:
            raise DomainError("unknown_tip", f"there is no tip {tip_id!r}")
        if not await self.has_access(tenant, tip, actor):
            raise DomainError("not_bought", "buy the tip to read it")
        number = version if version is not None else tip.get("listed_version")
        if number is None:
            raise DomainError("not_listed", "the tip has no listed version")
        doc = await self._version(tenant, tip_id, number)
        assert actor is not None
        if not (actor.privileged or tip["author_id"] == actor.user_id) and doc["status"] != VersionStatus.APPROVED:
            raise DomainError("unknown_version", f"tip {tip_id!r} has no version {number} for sale")
        return doc

    # ---- purchases (HTTP, then ledger.transfer-posted.v1 / ledger.transfer-rejected.v1) ---------------

    async def buy(self, tenant: str, actor: Actor, tip_id: str) -> Result:
        """Ask the ledger to pay for the listed version: the purchase (pending) and the request
        (ledger.transfer-requested.v1, keyed by buyer) commit together. A pending or granted purchase is
        answered as it stands; a refused one is tried again under a new transfer id."""
        buyer = actor.user_id
        pid = domain.purchase_id(buyer, tip_id)
        now = utcnow()

        async def work(session: Session, out: Outbox) -> Result:
            tip = await self.store.tip(tenant, tip_id, session)
            if tip is None:
                raise DomainError("unknown_tip", f"there is no tip {tip_id!r}")
            existing = await self.store.purchase(tenant, pid, session)
            attempt = domain.next_attempt(existing["status"] if existing else None,
                                          existing["attempt"] if existing else 0)
            if attempt is None:
                assert existing is not None
                return Result(existing, True)
            if tip["status"] != TipStatus.LISTED:
                raise DomainError("not_listed", f"tip {tip_id} is not for sale")
            if tip["author_id"] == buyer:
                raise DomainError("own_tip", "authors do not buy their own tips")
            transfer = domain.transfer_id(buyer, tip_id, attempt)
            fields = {"status": PurchaseStatus.PENDING.value, "attempt": attempt, "transfer_id": transfer,
                      "version": tip["listed_version"], "price": tip["price"], "seller_id": tip["author_id"],
                      "requested_at": now, "refusal": None}
            if existing is None:
                doc = {"_id": scoped(tenant, pid), "tenant_id": tenant, "purchase_id": pid, "buyer_id": buyer,
                       "tip_id": tip_id, "transfer_ids": [transfer], "created_at": now, **fields}
                await self.store.purchases.insert_one(doc, session=session)
            else:
                doc = await self.store.purchases.find_one_and_update(
                    {"_id": existing["_id"], "status": PurchaseStatus.REFUSED.value, "attempt": existing["attempt"]},
                    {"$set": fields, "$push": {"transfer_ids": transfer}}, return_document=ReturnDocument.AFTER,
                    session=session)
                if doc is None:
                    raise DomainError("purchase_changed", "the purchase changed meanwhile; try again")
            self._event(out, LEDGER_TRANSFER_REQUESTED, TransferRequested(
                transfer_id=transfer, buyer_id=buyer, seller_id=tip["author_id"], tip_id=tip_id, price=tip["price"]),
                tenant, buyer)
            self._event(out, MARKETPLACE_PURCHASE_REQUESTED, PurchaseRequested(
                **self._purchase_facts(doc), requested_at=now), tenant, buyer)
            await self._daily_active(session, out, tenant, buyer, ActivityKind.PURCHASE, now)
            return Result(doc, False)

        try:
            result = await self._commit(work)
        except DuplicateKeyError:  # a concurrent first request of the same buyer and tip won
            result = await self._commit(work)
        if not result.replayed:
            PURCHASES.labels("requested").inc()
        return result

    @staticmethod
    def _purchase_facts(doc: Doc) -> Doc:
        return {k: doc[k] for k in ("purchase_id", "transfer_id", "attempt", "buyer_id", "seller_id", "tip_id",
                                    "version", "price")}

    async def _each_fresh(self, deliveries: Sequence[Delivery], topic: str,
                          handle: Callable[[str, Delivery], Awaitable[str]]) -> None:
        """Hand each unprocessed delivery to `handle` (one transaction each, with its inbox entry). When a
        concurrent consumer recorded it meanwhile, the inbox's unique id refuses the second: skipped."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            for delivery in fresh:
                try:
                    status = await handle(tenant, delivery)
                except DuplicateKeyError:
                    if not await self.store.inbox.processed([delivery.key]):
                        raise
                    status = "duplicate"
                MESSAGES_CONSUMED.labels(self.settings.service_name, topic, "processed").inc()
                log.debug("answer handled", extra={"topic": topic, "status": status})

    async def handle_transfers_posted(self, deliveries: Sequence[Delivery]) -> None:
        await self._each_fresh(deliveries, "ledger.transfer-posted.v1", self._posted)

    async def handle_transfers_rejected(self, deliveries: Sequence[Delivery]) -> None:
        await self._each_fresh(deliveries, "ledger.transfer-rejected.v1", self._rejected)

    async def _answered(self, tenant: str, delivery: Delivery,
                        decide: Callable[[Session, Outbox, Doc, datetime], Awaitable[str]]) -> str:
        """The purchase a ledger answer is about, decided on by `decide` when it is the pending attempt;
        the inbox entry records what came of the event."""
        data = delivery.event.data
        now = utcnow()

        async def work(session: Session, out: Outbox) -> str:
            purchase = await self.store.purchase_by_transfer(tenant, data.transfer_id, session)
            if purchase is None:
                status = "unknown_transfer"  # not a purchase of this marketplace (or of another deployment)
            elif purchase["transfer_id"] != data.transfer_id:
                status = "earlier_attempt"
                log.error("ledger answered an earlier attempt of a purchase",
                          extra={"transfer_id": data.transfer_id, "purchase": purchase["purchase_id"]})
            elif purchase["status"] != PurchaseStatus.PENDING:
                status = f"already_{purchase['status']}"  # a redelivery, a repeat answer or a late one
            else:
                status = await decide(session, out, purchase, now)
            await self.store.inbox.record([self.store.inbox.entry(tenant, delivery.event.id, {
                "status": status, "transfer_id": data.transfer_id})], session)
            return status

        return await self._commit(work)

    async def _posted(self, tenant: str, delivery: Delivery) -> str:
        data = delivery.event.data

        async def decide(session: Session, out: Outbox, purchase: Doc, now: datetime) -> str:
            fields = {"status": PurchaseStatus.GRANTED.value, "granted_at": now, "seller_amount": data.seller_amount,
                      "platform_amount": data.platform_amount, "ledger_posted_at": data.posted_at}
            done = await self.store.purchases.update_one(
                {"_id": purchase["_id"], "status": PurchaseStatus.PENDING.value, "transfer_id": data.transfer_id},
                {"$set": fields}, session=session)
            if not done.matched_count:
                return "changed"
            await self.store.tips.update_one({"_id": scoped(tenant, purchase["tip_id"])}, {"$inc": {"sales": 1}},
                                             session=session)
            self._event(out, MARKETPLACE_PURCHASE_COMPLETED, PurchaseCompleted(
                **self._purchase_facts(purchase), seller_amount=data.seller_amount, completed_at=now),
                tenant, purchase["buyer_id"])
            PURCHASES.labels("granted").inc()
            return "granted"

        return await self._answered(tenant, delivery, decide)

    async def _rejected(self, tenant: str, delivery: Delivery) -> str:
        data = delivery.event.data

        async def decide(session: Session, out: Outbox, purchase: Doc, now: datetime) -> str:
            if data.reason == PurchaseRejection.TRANSFER_ID_CONFLICT:
                # The id was decided before with other content: whatever that was stands in the ledger.
                # Refusing here would let a new attempt pay a second time; an operator has to look.
                await self.store.purchases.update_one({"_id": purchase["_id"]}, {"$set": {"conflict": {
                    "message": data.message, "at": now}}}, session=session)
                log.error("ledger reports a transfer id conflict for a purchase",
                          extra={"transfer_id": data.transfer_id})
                return "conflict"
            refusal = {"reason": data.reason.value, "limit": data.limit.value if data.limit else None,
                       "limit_value": data.limit_value, "message": data.message, "refused_at": now}
            done = await self.store.purchases.update_one(
                {"_id": purchase["_id"], "status": PurchaseStatus.PENDING.value, "transfer_id": data.transfer_id},
                {"$set": {"status": PurchaseStatus.REFUSED.value, "refusal": refusal}}, session=session)
            if not done.matched_count:
                return "changed"
            self._event(out, MARKETPLACE_PURCHASE_REFUSED, PurchaseRefused(
                **self._purchase_facts(purchase), reason=data.reason, limit=data.limit, limit_value=data.limit_value,
                message=data.message, refused_at=now), tenant, purchase["buyer_id"])
            PURCHASES.labels("refused").inc()
            return "refused"

        return await self._answered(tenant, delivery, decide)

    # ---- activity: visit, learn, rate, forward -------------------------------------------------------

    async def _known_tip(self, tenant: str, tip_id: str, session: Session | None = None) -> Doc:
        tip = await self.store.tip(tenant, tip_id, session)
        if tip is None:
            raise DomainError("unknown_tip", f"there is no tip {tip_id!r}")
        return tip

    async def visit(self, tenant: str, actor: Actor, tip_id: str) -> Doc:
        now = utcnow()

        async def work(session: Session, out: Outbox) -> Doc:
            tip = await self._known_tip(tenant, tip_id, session)
            await self.store.tips.update_one({"_id": tip["_id"]}, {"$inc": {"visits": 1}}, session=session)
            self._event(out, MARKETPLACE_TIP_VISITED, TipVisited(user_id=actor.user_id, tip_id=tip_id, visited_at=now),
                        tenant, actor.user_id)
            await self._daily_active(session, out, tenant, actor.user_id, ActivityKind.VISIT, now)
            return {"tip_id": tip_id, "user_id": actor.user_id, "visited_at": now}

        return await self._commit(work)

    async def _bought(self, tenant: str, user_id: str, tip_id: str, session: Session) -> Doc:
        purchase = await self.store.purchase(tenant, domain.purchase_id(user_id, tip_id), session)
        if purchase is None or purchase["status"] != PurchaseStatus.GRANTED:
            raise DomainError("not_bought", "buy the tip first")
        return purchase

    async def learn(self, tenant: str, actor: Actor, tip_id: str, report: domain.LearnReport) -> Doc:
        """Record a buyer's progress and watch time on a tip; a tip reaching the completion threshold counts
        as learned; a user with enough tips learned and watch time is flagged a deep learner, once."""
        user = actor.user_id
        settings = self.settings
        now = utcnow()

        async def work(session: Session, out: Outbox) -> Doc:
            await self._bought(tenant, user, tip_id, session)
            key = scoped(tenant, f"{user}|{tip_id}")
            stored = await self.store.learning.find_one({"_id": key}, session=session) or {}
            before = domain.Learning(stored.get("progress_percent", 0), stored.get("watched_seconds", 0),
                                     stored.get("learned", False), stored.get("rewatches", 0),
                                     stored.get("last_session"), stored.get("sessions", {}))
            after, rewatch = domain.learn(before, report, settings.learned_at_percent)
            await self.store.learning.update_one({"_id": key}, {"$set": {
                "progress_percent": after.progress_percent, "watched_seconds": after.watched_seconds,
                "learned": after.learned, "rewatches": after.rewatches, "last_session": after.last_session,
                "sessions": dict(after.session_seconds), "updated_at": now},
                "$setOnInsert": {"tenant_id": tenant, "user_id": user, "tip_id": tip_id, "created_at": now}},
                upsert=True, session=session)
            added = after.watched_seconds - before.watched_seconds
            newly_learned = after.learned and not before.learned
            counts = {"learned": int(newly_learned), "rewatchers": int(rewatch and before.rewatches == 0)}
            if any(counts.values()):
                await self.store.tips.update_one({"_id": scoped(tenant, tip_id)}, {"$inc": counts}, session=session)
            learner = await self.store.learners.find_one_and_update(
                {"_id": scoped(tenant, user)},
                {"$inc": {"tips_learned": int(newly_learned), "watched_seconds": added},
                 "$setOnInsert": {"tenant_id": tenant, "user_id": user}},
                upsert=True, return_document=ReturnDocument.AFTER, session=session)
            if learner.get("flagged_at") is None and domain.is_deep_learner(
                    learner["tips_learned"], learner["watched_seconds"], settings.deep_learner_min_tips,
                    settings.deep_learner_min_seconds):
                await self.store.learners.update_one({"_id": learner["_id"]}, {"$set": {"flagged_at": now}},
                                                     session=session)
                self._event(out, MARKETPLACE_DEEP_LEARNER_FLAGGED, DeepLearnerFlagged(
                    user_id=user, tips_learned=learner["tips_learned"], watched_seconds=learner["watched_seconds"],
                    min_tips=settings.deep_learner_min_tips, min_seconds=settings.deep_learner_min_seconds,
                    flagged_at=now), tenant, user)
                learner["flagged_at"] = now
            self._event(out, MARKETPLACE_LEARN_PROGRESSED, LearnProgressed(
                user_id=user, tip_id=tip_id, session_id=report.session_id, progress_percent=after.progress_percent,
                watched_seconds=after.watched_seconds, learned=after.learned, rewatch=rewatch,
                rewatches=after.rewatches, at=now), tenant, user)
            await self._daily_active(session, out, tenant, user, ActivityKind.LEARN, now)
            return {"tip_id": tip_id, "user_id": user, "progress_percent": after.progress_percent,
                    "watched_seconds": after.watched_seconds, "learned": after.learned, "rewatches": after.rewatches,
                    "rewatch": rewatch, "tips_learned": learner["tips_learned"],
                    "total_watched_seconds": learner["watched_seconds"],
                    "deep_learner": learner.get("flagged_at") is not None}

        return await self._commit(work)

    async def learner(self, tenant: str, user_id: str) -> Doc:
        doc = await self.store.learners.find_one({"_id": scoped(tenant, user_id)}) or {}
        return {"user_id": user_id, "tips_learned": doc.get("tips_learned", 0),
                "watched_seconds": doc.get("watched_seconds", 0), "deep_learner": doc.get("flagged_at") is not None,
                "flagged_at": doc.get("flagged_at")}

    async def tip_funnel(self, tenant: str, tip_id: str) -> Doc:
        """The tip's funnel (the seed's content funnel): review pass rate, then visits -> purchases ->
        learned, and forwards and rewatches."""
        tip = await self._known_tip(tenant, tip_id)
        reviews = [r for v in await self.store.versions.find({"tenant_id": tenant, "tip_id": tip_id},
                                                               {"reviews": 1}).to_list() for r in v.get("reviews", [])]
        approved = sum(r["decision"] == "approved" for r in reviews)
        visits, sales, learned = tip.get("visits", 0), tip.get("sales", 0), tip.get("learned", 0)

        def rate(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        return {"tip_id": tip_id, "reviews": len(reviews), "approvals": approved, "visits": visits, "sales": sales,
                "learned": learned, "forwards": tip.get("forwards", 0), "rewatchers": tip.get("rewatchers", 0),
                "ratings": tip.get("rating_count", 0), "review_pass_rate": rate(approved, len(reviews)),
                "purchase_rate": rate(sales, visits), "learn_rate": rate(learned, sales),
                "forward_rate": rate(tip.get("forwards", 0), visits),
                "rewatch_rate": rate(tip.get("rewatchers", 0), learned)}

    async def rate(self, tenant: str, actor: Actor, tip_id: str, stars: int, comment: str | None) -> Doc:
        """A buyer rates the listed version, once per version."""
        user = actor.user_id
        now = utcnow()

        async def work(session: Session, out: Outbox) -> Doc:
            await self._bought(tenant, user, tip_id, session)
            tip = await self._known_tip(tenant, tip_id, session)
            version = tip.get("listed_version")
            if version is None:
                raise DomainError("not_listed", "the tip has no listed version")
            doc = {"_id": scoped(tenant, f"{tip_id}#{version}|{user}"), "tenant_id": tenant, "tip_id": tip_id,
                   "version": version, "user_id": user, "stars": stars, "comment": comment, "rated_at": now}
            try:
                await self.store.ratings.insert_one(doc, session=session)
            except DuplicateKeyError as error:
                raise DomainError("already_rated", f"you rated version {version} of this tip already") from error
            await self.store.tips.update_one({"_id": tip["_id"]}, [
                {"$set": {"rating_sum": {"$add": ["$rating_sum", stars]}, "rating_count": {"$add": ["$rating_count", 1]}}},
                {"$set": {"rating_avg": {"$round": [{"$divide": ["$rating_sum", "$rating_count"]}, 2]}}},
                {"$set": {"rating_rank": "$rating_avg"}},
            ], session=session)
            self._event(out, MARKETPLACE_TIP_RATED, TipRated(
                user_id=user, tip_id=tip_id, version=version, author_id=tip["author_id"], stars=stars, comment=comment,
                rated_at=now), tenant, tip_id)
            await self._daily_active(session, out, tenant, user, ActivityKind.RATE, now)
            return doc

        try:
            return await self._commit(work)
        except DuplicateKeyError as error:  # the same rating committed concurrently
            raise DomainError("already_rated", "you rated this version of the tip already") from error

    async def forward(self, tenant: str, actor: Actor, tip_id: str, to_user_id: str, note: str | None) -> Doc:
        if to_user_id == actor.user_id:
            raise DomainError("forward_to_self", "forward the tip to a colleague")
        now = utcnow()

        async def work(session: Session, out: Outbox) -> Doc:
            tip = await self._known_tip(tenant, tip_id, session)
            if tip["status"] != TipStatus.LISTED:
                raise DomainError("not_listed", f"tip {tip_id} is not for sale")
            doc = {"_id": scoped(tenant, uuid.uuid4().hex), "tenant_id": tenant, "tip_id": tip_id,
                   "from_user_id": actor.user_id, "to_user_id": to_user_id, "note": note, "forwarded_at": now}
            await self.store.forwards.insert_one(doc, session=session)
            await self.store.tips.update_one({"_id": tip["_id"]}, {"$inc": {"forwards": 1}}, session=session)
            self._event(out, MARKETPLACE_TIP_FORWARDED, TipForwarded(
                from_user_id=actor.user_id, to_user_id=to_user_id, tip_id=tip_id, note=note, forwarded_at=now),
                tenant, to_user_id)
            await self._daily_active(session, out, tenant, actor.user_id, ActivityKind.FORWARD, now)
            return doc

        return await self._commit(work)

    # ---- sellers -------------------------------------------------------------------------------------

    async def redeem(self, tenant: str, actor: Actor, seller_id: str, redemption_id: str, yuan: int,
                     item: str | None) -> httpx.Response:
        """Ask the ledger to convert the seller's earnings (its POST /v1/redemptions: idempotent on the id)."""
        if actor.user_id != seller_id:
            raise DomainError("not_seller", "sellers redeem their own earnings")
        if self.ledger_http is None:
            raise DomainError("ledger_unavailable", "no ledger configured")
        body: Doc = {"id": redemption_id, "user_id": seller_id, "yuan": yuan}
        if item is not None:
            body["item"] = item
        return await self.ledger_http.post("/v1/redemptions", json=body,
                                           headers={"X-Tenant-Id": tenant})  # with the service's token

    # ---- struggle push -------------------------------------------------------------------------------

    async def recommend(self, tenant: str, agent_id: str, team_id: str | None, agent: dict[FunnelStep, float],
                        team: dict[FunnelStep, float]) -> Doc:
        """The step where the agent lags its team most, its call stage, and the best-rated tips of that stage
        the agent has not bought (nor written), announced on marketplace.struggle-recommended.v1."""
        found = domain.struggle(agent, team, self.settings.stage_of_step)
        if found is None:
            return {"agent_id": agent_id, "step": None, "stage": None, "tips": [], "recommendation_id": None}
        candidates = [t for t in await self.store.listed_of_stage(tenant, found.stage.value, 500)
                      if t["author_id"] != agent_id]
        owned = await self.store.owned_tip_ids(tenant, agent_id)
        tips = [RecommendedTip(tip_id=t["tip_id"], version=t["listed_version"], title=t["title"], price=t["price"],
                               rating=t.get("rating_avg"), ratings=t.get("rating_count", 0))
                for t in domain.best_rated(candidates, owned, self.settings.recommend_limit)]
        now = utcnow()
        data = StruggleRecommended(recommendation_id=uuid.uuid4().hex, agent_id=agent_id, team_id=team_id,
                                   step=found.step, agent_rate=found.agent_rate, team_rate=found.team_rate,
                                   gap=found.gap, stage=found.stage, tips=tips, recommended_at=now)

        async def work(session: Session, out: Outbox) -> Doc:
            doc = {"_id": scoped(tenant, data.recommendation_id), "tenant_id": tenant,
                   **data.model_dump(mode="json"), "recommended_at": now}
            await self.store.recommendations.insert_one(doc, session=session)
            self._event(out, MARKETPLACE_STRUGGLE_RECOMMENDED, data, tenant, agent_id)
            return data.model_dump(mode="json")

        return await self._commit(work)
