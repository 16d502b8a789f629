"""A unit of work of one tenant: loads the aggregates and compiles their typed changes into the guarded
MongoDB updates that keep them consistent under concurrency (the expected state is in each filter), in
the session of one transaction; the events announced go to the outbox with it (MarketplaceStore.commit)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from telesales_contracts.marketplace import StruggleRecommended

from ..domain import Announcement, DailyActive, DomainError, Learner, Learning, Purchase, Tip, Version, learning_of
from ..domain.learning import CountLearner, FlagLearner, SaveLearning
from ..domain.purchases import FlagConflict, GrantPurchase, OpenPurchase, PurchaseStatus, RefusePurchase, RetryPurchase
from ..domain.struggle import AgentPushes
from ..domain.tips import CountOnTip, DelistTip, Forward, ListTip, NewTip, NewVersion, Rating
from ..domain.versions import AttachMedia, EditVersion, ReviewVersion, SubmitVersion
from ..domain.workflow import TipStatus, VersionStatus
from .keys import Doc, Session, scoped, version_key

if TYPE_CHECKING:
    from .base import MarketplaceStore

# What a listed tip shows of its listed version, for browsing.
LISTED_FIELDS = ("title", "summary", "stage", "product_line", "tags", "price", "media")


class Unit:
    def __init__(self, store: MarketplaceStore, tenant: str, session: Session | None) -> None:
        self.store = store
        self.tenant = tenant
        self.session = session
        self.announcements: list[Announcement] = []

    def announce(self, *announcements: Announcement) -> None:
        self.announcements.extend(announcements)

    # ---- loads ---------------------------------------------------------------------------------------

    async def tip(self, tip_id: str) -> Tip:
        doc = await self.store.tip(self.tenant, tip_id, self.session)
        if doc is None:
            raise DomainError("unknown_tip", f"there is no tip {tip_id!r}")
        return Tip.from_doc(doc)

    async def version(self, tip_id: str, number: int) -> Version:
        doc = await self.store.version(self.tenant, tip_id, number, self.session)
        if doc is None:
            raise DomainError("unknown_version", f"tip {tip_id!r} has no version {number}")
        return Version.from_doc(doc)

    async def purchase(self, purchase_id: str) -> Purchase | None:
        doc = await self.store.purchase(self.tenant, purchase_id, self.session)
        return Purchase.from_doc(doc) if doc else None

    async def purchase_by_transfer(self, transfer_id: str) -> Purchase | None:
        """The purchase one of whose attempts used `transfer_id`."""
        doc = await self.store.purchases.find_one({"tenant_id": self.tenant, "transfer_ids": transfer_id},
                                                  session=self.session)
        return Purchase.from_doc(doc) if doc else None

    async def learning(self, user_id: str, tip_id: str) -> Learning:
        stored = await self.store.learning.find_one({"_id": scoped(self.tenant, f"{user_id}|{tip_id}")},
                                                    session=self.session)
        return learning_of(stored)

    # ---- tips and versions ---------------------------------------------------------------------------

    def _version_doc(self, version: Version) -> Doc:
        return {"_id": version_key(self.tenant, version.tip_id, version.number), "tenant_id": self.tenant,
                **version.as_doc()}

    async def add_tip(self, new: NewTip) -> None:
        tip, at = new.tip, new.first.created_at
        doc = {"_id": scoped(self.tenant, tip.tip_id), "tenant_id": self.tenant, "tip_id": tip.tip_id,
               "author_id": tip.author_id, "status": tip.status.value, "latest_version": tip.latest_version,
               "listed_version": tip.listed_version, "rating_sum": 0, "rating_count": 0, "rating_avg": None,
               "rating_rank": -1, "sales": 0, "visits": 0, "created_at": at}
        try:
            await self.store.tips.insert_one(doc, session=self.session)
        except DuplicateKeyError as error:
            raise DomainError("tip_exists", f"tip {tip.tip_id!r} exists already") from error
        await self.store.versions.insert_one(self._version_doc(new.first), session=self.session)

    async def add_version(self, new: NewVersion) -> None:
        version = new.version
        await self.store.versions.insert_one(self._version_doc(version), session=self.session)
        done = await self.store.tips.update_one(
            {"_id": scoped(self.tenant, version.tip_id), "latest_version": new.after_latest},
            {"$set": {"latest_version": version.number}}, session=self.session)
        if not done.matched_count:
            raise DomainError("version_changed", "another version was created meanwhile")

    async def edit_version(self, edit: EditVersion) -> Version:
        updated = await self.store.versions.find_one_and_update(
            {"_id": version_key(self.tenant, edit.tip_id, edit.number), "status": edit.from_status.value},
            {"$set": {**edit.fields, "status": VersionStatus.DRAFT.value, "updated_at": edit.at}},
            return_document=ReturnDocument.AFTER, session=self.session)
        if updated is None:
            raise DomainError("version_changed", "the version changed meanwhile; read it again")
        return Version.from_doc(updated)

    async def attach_media(self, attach: AttachMedia) -> Version | None:
        """The version as it was before (None when it was not editable any more)."""
        before = await self.store.versions.find_one_and_update(
            {"_id": version_key(self.tenant, attach.tip_id, attach.number),
             "status": {"$in": [VersionStatus.DRAFT.value, VersionStatus.REJECTED.value]}},
            {"$set": {"media": attach.media.as_doc(), "status": VersionStatus.DRAFT.value, "updated_at": attach.at}},
            session=self.session)
        return Version.from_doc(before) if before else None

    async def submit(self, submit: SubmitVersion) -> None:
        fields = {"status": VersionStatus.SUBMITTED.value, "submitted_at": submit.at, "updated_at": submit.at}
        await self.store.versions.update_one(
            {"_id": version_key(self.tenant, submit.tip_id, submit.number), "status": submit.from_status.value},
            {"$set": fields}, session=self.session)

    async def review(self, review: ReviewVersion) -> None:
        entry = review.review.as_doc()
        fields = {"status": review.review.decision, "review": entry, "updated_at": review.at}
        await self.store.versions.update_one(
            {"_id": version_key(self.tenant, review.tip_id, review.number), "status": VersionStatus.SUBMITTED.value},
            {"$set": fields, "$push": {"reviews": entry}}, session=self.session)

    async def list_tip(self, listing: ListTip) -> None:
        version = listing.version.as_doc()
        await self.store.tips.update_one({"_id": scoped(self.tenant, listing.version.tip_id)}, {"$set": {
            **{k: version.get(k) for k in LISTED_FIELDS}, "status": TipStatus.LISTED.value,
            "listed_version": listing.version.number, "listed_at": listing.at,
            "search_terms": listing.search_terms}}, session=self.session)

    async def delist(self, delist: DelistTip) -> None:
        fields = {"status": TipStatus.DELISTED.value, "delisted_at": delist.at, "delist_reason": delist.reason}
        await self.store.tips.update_one({"_id": scoped(self.tenant, delist.tip_id), "status": TipStatus.LISTED.value},
                                         {"$set": fields}, session=self.session)

    async def count(self, count: CountOnTip) -> None:
        if count.counts:
            await self.store.tips.update_one({"_id": scoped(self.tenant, count.tip_id)}, {"$inc": count.counts},
                                             session=self.session)

    async def add_rating(self, rating: Rating) -> Doc:
        """Store a rating (once per tip, version and buyer) and fold it into the tip's average."""
        doc = {"_id": scoped(self.tenant, f"{rating.tip_id}#{rating.version}|{rating.user_id}"),
               "tenant_id": self.tenant, "tip_id": rating.tip_id, "version": rating.version,
               "user_id": rating.user_id, "stars": rating.stars, "comment": rating.comment,
               "rated_at": rating.rated_at}
        try:
            await self.store.ratings.insert_one(doc, session=self.session)
        except DuplicateKeyError as error:
            raise DomainError("already_rated", f"you rated version {rating.version} of this tip already") from error
        await self.store.tips.update_one({"_id": scoped(self.tenant, rating.tip_id)}, [
            {"$set": {"rating_sum": {"$add": ["$rating_sum", rating.stars]},
                      "rating_count": {"$add": ["$rating_count", 1]}}},
            {"$set": {"rating_avg": {"$round": [{"$divide": ["$rating_sum", "$rating_count"]}, 2]}}},
            {"$set": {"rating_rank": "$rating_avg"}},
        ], session=self.session)
        return doc

    async def add_forward(self, forward: Forward) -> Doc:
        doc = {"_id": scoped(self.tenant, forward.forward_id), "tenant_id": self.tenant, "tip_id": forward.tip_id,
               "from_user_id": forward.from_user_id, "to_user_id": forward.to_user_id, "note": forward.note,
               "forwarded_at": forward.forwarded_at}
        await self.store.forwards.insert_one(doc, session=self.session)
        await self.store.tips.update_one({"_id": scoped(self.tenant, forward.tip_id)}, {"$inc": {"forwards": 1}},
                                         session=self.session)
        return doc

    # ---- purchases -----------------------------------------------------------------------------------

    async def open_purchase(self, change: OpenPurchase) -> None:
        purchase = change.purchase
        doc = {"_id": scoped(self.tenant, purchase.purchase_id), "tenant_id": self.tenant, **purchase.as_doc()}
        await self.store.purchases.insert_one(doc, session=self.session)

    async def retry_purchase(self, change: RetryPurchase) -> Purchase:
        purchase = change.purchase
        doc = await self.store.purchases.find_one_and_update(
            {"_id": scoped(self.tenant, purchase.purchase_id), "status": PurchaseStatus.REFUSED.value,
             "attempt": change.from_attempt},
            {"$set": purchase.attempt_fields(), "$push": {"transfer_ids": purchase.transfer_id}},
            return_document=ReturnDocument.AFTER, session=self.session)
        if doc is None:
            raise DomainError("purchase_changed", "the purchase changed meanwhile; try again")
        return Purchase.from_doc(doc)

    async def grant(self, grant: GrantPurchase) -> bool:
        """Whether the attempt was still pending (and is granted now)."""
        fields = {"status": PurchaseStatus.GRANTED.value, "granted_at": grant.granted_at,
                  "seller_amount": grant.seller_amount, "platform_amount": grant.platform_amount,
                  "ledger_posted_at": grant.ledger_posted_at}
        done = await self.store.purchases.update_one(
            {"_id": scoped(self.tenant, grant.purchase_id), "status": PurchaseStatus.PENDING.value,
             "transfer_id": grant.transfer_id}, {"$set": fields}, session=self.session)
        return bool(done.matched_count)

    async def refuse(self, refuse: RefusePurchase) -> bool:
        """Whether the attempt was still pending (and is refused now)."""
        done = await self.store.purchases.update_one(
            {"_id": scoped(self.tenant, refuse.purchase_id), "status": PurchaseStatus.PENDING.value,
             "transfer_id": refuse.transfer_id},
            {"$set": {"status": PurchaseStatus.REFUSED.value, "refusal": refuse.refusal.as_doc()}},
            session=self.session)
        return bool(done.matched_count)

    async def flag_conflict(self, flag: FlagConflict) -> None:
        await self.store.purchases.update_one({"_id": scoped(self.tenant, flag.purchase_id)},
                                              {"$set": {"conflict": flag.conflict.as_doc()}}, session=self.session)

    async def record_answer(self, event_id: str, outcome: dict[str, Any]) -> None:
        """The inbox entry of a consumed event: what came of it."""
        inbox = self.store.inbox
        await inbox.record([inbox.entry(self.tenant, event_id, outcome)], self.session)

    # ---- learning, activity, recommendations ---------------------------------------------------------

    async def save_learning(self, save: SaveLearning) -> None:
        after, at = save.learning, save.at
        await self.store.learning.update_one({"_id": scoped(self.tenant, f"{save.user_id}|{save.tip_id}")}, {"$set": {
            "progress_percent": after.progress_percent, "watched_seconds": after.watched_seconds,
            "learned": after.learned, "rewatches": after.rewatches, "last_session": after.last_session,
            "sessions": dict(after.session_seconds), "updated_at": at},
            "$setOnInsert": {"tenant_id": self.tenant, "user_id": save.user_id, "tip_id": save.tip_id,
                             "created_at": at}}, upsert=True, session=self.session)

    async def count_learner(self, count: CountLearner) -> Learner:
        """Add to the learner's totals; the learner after."""
        doc = await self.store.learners.find_one_and_update(
            {"_id": scoped(self.tenant, count.user_id)},
            {"$inc": {"tips_learned": count.tips_learned, "watched_seconds": count.watched_seconds},
             "$setOnInsert": {"tenant_id": self.tenant, "user_id": count.user_id}},
            upsert=True, return_document=ReturnDocument.AFTER, session=self.session)
        return Learner.from_doc(count.user_id, doc)

    async def flag_learner(self, flag: FlagLearner) -> None:
        await self.store.learners.update_one({"_id": scoped(self.tenant, flag.user_id)},
                                             {"$set": {"flagged_at": flag.at}}, session=self.session)

    async def daily_active(self, active: DailyActive) -> None:
        """Record the user's activity of the day; the first of the day is announced."""
        written = await self.store.daily_active.update_one(
            {"_id": scoped(self.tenant, f"{active.user_id}|{active.day}")},
            {"$setOnInsert": {"tenant_id": self.tenant, "user_id": active.user_id, "day": active.day,
                              "first_activity": active.kind.value, "at": active.at}},
            upsert=True, session=self.session)
        if written.upserted_id is not None:
            self.announce(active.announcement())

    async def save_recommendation(self, data: StruggleRecommended) -> None:
        doc = {"_id": scoped(self.tenant, data.recommendation_id), "tenant_id": self.tenant,
               **data.model_dump(mode="json"), "recommended_at": data.recommended_at}
        await self.store.recommendations.insert_one(doc, session=self.session)

    # ---- pushes ----------------------------------------------------------------------------------------

    async def pushed(self, recommendation_id: str) -> bool:
        """Whether the push of this id was made (its trigger was handled)."""
        found = await self.store.recommendations.find_one({"_id": scoped(self.tenant, recommendation_id)}, {"_id": 1},
                                                          session=self.session)
        return found is not None

    async def agent_pushes(self, agent_id: str, day: str, since: datetime) -> AgentPushes:
        """The agent's pushes of `day`, the tips it owns and those recommended to it since `since`."""
        counted = await self.store.push_counts.find_one({"_id": scoped(self.tenant, f"{agent_id}|{day}")},
                                                        session=self.session)
        owned = self.store.purchases.find({"tenant_id": self.tenant, "buyer_id": agent_id, "status": "granted"},
                                          {"tip_id": 1}, session=self.session)
        recent = self.store.recommendations.find(
            {"tenant_id": self.tenant, "agent_id": agent_id, "recommended_at": {"$gte": since}}, {"tips.tip_id": 1},
            session=self.session)
        return AgentPushes(agent_id, counted["count"] if counted else 0,
                           frozenset([doc["tip_id"] async for doc in owned]),
                           frozenset([t["tip_id"] async for doc in recent for t in doc.get("tips", [])]))

    async def count_push(self, agent_id: str, day: str) -> None:
        """One more push of the agent on `day`. Two transactions counting the same agent's day conflict, and
        the later one runs again on what the first wrote (so the daily cap it checked holds)."""
        await self.store.push_counts.update_one(
            {"_id": scoped(self.tenant, f"{agent_id}|{day}")},
            {"$inc": {"count": 1}, "$setOnInsert": {"tenant_id": self.tenant, "agent_id": agent_id, "day": day}},
            upsert=True, session=self.session)
