"""The marketplace (family `market`, and `tip` per tip): the user funnel visit -> buy -> learn -> rate ->
forward, the tip funnel per user-tip pair visited -> bought -> learned -> rewatched -> rated -> forwarded,
the tips' reviews and listings, and the learning cohorts of the training effect (family `training`).

The rules:
- A user counts at a step the first time (`users:<step>`), a user-tip pair the first time
  (`tip_users:<step>`, and the step in the tip's own counters).
- Re-learning (复学): a user whose coins were reclaimed and who reports learning a tip afterwards
  (`marketplace.learn-progressed.v1`; visits, purchases and other activity do not count) counts once as
  `users_relearned` on the day they learn, and once as `reclaimed_relearned` on the day they counted as
  reclaimed: the re-learn rate of a period is `reclaimed_relearned / users_reclaimed` (复学人数/回收人数)
  of the users reclaimed in it, so it never exceeds 1.
- Daily active (日活): a user active on a day (`marketplace.daily-active.v1`) counts as
  `daily_active_allocated` once that day when coins were allocated to them before: the daily-active rate is
  that over the users the coins were allocated to (`users_allocated` up to the day), so it never exceeds 1.
- Learning a tip makes the agent a `learner`; being flagged a deep learner makes it `deep` (counted once).
  An agent's counts go to the cohort it is in when they happen.
- The facts of each tip (title, stage, author, status) are kept for the tip funnel's rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telesales_contracts import topics as t

from .counting import Counting
from .facts import Fact
from .states import World
from .vocabulary import TIP_STEPS, USER_STEPS, day_of

# Topic -> rule.
MARKETPLACE_RULES: dict[str, str] = {
    t.MARKETPLACE_TIP_SUBMITTED.name: "_tip_submitted",
    t.MARKETPLACE_TIP_REVIEWED.name: "_tip_reviewed",
    t.MARKETPLACE_TIP_LISTED.name: "_tip_listed",
    t.MARKETPLACE_TIP_DELISTED.name: "_tip_delisted",
    t.MARKETPLACE_PURCHASE_REQUESTED.name: "_purchase_requested",
    t.MARKETPLACE_PURCHASE_COMPLETED.name: "_purchase_completed",
    t.MARKETPLACE_PURCHASE_REFUSED.name: "_purchase_refused",
    t.MARKETPLACE_TIP_VISITED.name: "_visited",
    t.MARKETPLACE_LEARN_PROGRESSED.name: "_learned",
    t.MARKETPLACE_TIP_RATED.name: "_rated",
    t.MARKETPLACE_TIP_FORWARDED.name: "_forwarded",
    t.MARKETPLACE_DAILY_ACTIVE.name: "_daily_active",
    t.MARKETPLACE_DEEP_LEARNER_FLAGGED.name: "_deep_learner",
    t.MARKETPLACE_STRUGGLE_RECOMMENDED.name: "_struggle",
}


class MarketplaceRules(Counting):
    """The marketplace's rules, one method per topic of MARKETPLACE_RULES, and the steps they share."""

    def _user_step(self, world: World, fact: Fact, day: str, user_id: str, step: str) -> None:
        """A user's activity: the step counted the first time, and a comeback after a reclaim noticed."""
        user = world.user(user_id)
        bit = 1 << USER_STEPS.index(step)
        if not user.steps & bit:
            user.steps |= bit
            world.touch("users", user_id)
            self._market(fact, day, {f"users:{step}": 1})

    def _relearned(self, world: World, fact: Fact, day: str, user_id: str) -> None:
        """A learning report after the user's coins were reclaimed: a re-learner, counted once on its day
        and once in the cohort of the day the user was reclaimed."""
        user = world.user(user_id)
        if user.reclaimed_at is not None and not user.relearned and fact.at > user.reclaimed_at:
            user.relearned = True
            world.touch("users", user_id)
            self._market(fact, day, {"users_relearned": 1})
            cohort = user.reclaim_day or day_of(user.reclaimed_at, self.rules.tz)
            self._market(fact, cohort, {"reclaimed_relearned": 1})

    def _tip_step(self, world: World, fact: Fact, day: str, user_id: str, tip_id: str, step: str,
                  **tip_amounts: int) -> None:
        """A user-tip pair got to `step` (counted the first time), with the tip's event counts."""
        pair = world.user_tip(user_id, tip_id)
        bit = 1 << TIP_STEPS.index(step)
        amounts = dict(tip_amounts)
        if not pair.steps & bit:
            pair.steps |= bit
            world.touch("user_tips", (user_id, tip_id))
            amounts[step] = 1
            self._market(fact, day, {f"tip_users:{step}": 1})
        self.count(fact.tenant, "tip", day, (tip_id,), amounts)

    def _tip_facts(self, world: World, d: Any, **more: Any) -> None:
        facts = world.tips.setdefault(d.tip_id, {})
        for name in ("title", "stage", "author_id", "version", "product_line", "price"):
            value = getattr(d, name, None)
            if value is not None:
                facts[name] = getattr(value, "value", value)
        facts.update(more)

    def _tip_submitted(self, world: World, fact: Fact, day: str) -> None:
        self._tip_facts(world, fact.data)
        self._market(fact, day, {"tips_submitted": 1})
        self.count(fact.tenant, "tip", day, (fact.data.tip_id,), {"submitted": 1})

    def _tip_reviewed(self, world: World, fact: Fact, day: str) -> None:
        decision = fact.data.decision.value
        self._tip_facts(world, fact.data)
        self._market(fact, day, {f"tips_{decision}": 1})
        self.count(fact.tenant, "tip", day, (fact.data.tip_id,), {decision: 1})

    def _tip_listed(self, world: World, fact: Fact, day: str) -> None:
        self._tip_facts(world, fact.data, status="listed")
        self._market(fact, day, {"tips_listed": 1})

    def _tip_delisted(self, world: World, fact: Fact, day: str) -> None:
        world.tips.setdefault(fact.data.tip_id, {})["status"] = "delisted"
        self._market(fact, day, {"tips_delisted": 1})

    def _purchase_requested(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"purchase_requests": 1})

    def _activity(self, world: World, fact: Fact, day: str, user_id: str, market: Mapping[str, int], user_step: str,
                  tip_step: str, **tip_amounts: int) -> None:
        """A user's activity on a tip: the marketplace's counts, the user's step and the user-tip pair's."""
        self._market(fact, day, market)
        self._user_step(world, fact, day, user_id, user_step)
        self._tip_step(world, fact, day, user_id, fact.data.tip_id, tip_step, **tip_amounts)

    def _purchase_completed(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        self._activity(world, fact, day, d.buyer_id, {"purchases": 1, "coins_spent": d.price}, "buy", "bought",
                       purchases=1)

    def _purchase_refused(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"purchases_refused": 1, f"refused:{fact.data.reason.value}": 1})

    def _visited(self, world: World, fact: Fact, day: str) -> None:
        self._activity(world, fact, day, fact.data.user_id, {"visits": 1}, "visit", "visited", visits=1)

    def _learned(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        self._market(fact, day, {"learn_reports": 1})
        self._relearned(world, fact, day, d.user_id)
        if d.learned:
            self._user_step(world, fact, day, d.user_id, "learn")
            self._tip_step(world, fact, day, d.user_id, d.tip_id, "learned")
            agent = world.agent(d.user_id)
            if agent.cohort == "none":
                agent.cohort = "learner"
                world.touch("agents", d.user_id)
        if d.rewatch or d.rewatches:
            self._tip_step(world, fact, day, d.user_id, d.tip_id, "rewatched")

    def _rated(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        self._activity(world, fact, day, d.user_id, {"ratings": 1, "stars": d.stars}, "rate", "rated", ratings=1,
                       stars=d.stars)

    def _forwarded(self, world: World, fact: Fact, day: str) -> None:
        self._activity(world, fact, day, fact.data.from_user_id, {"forwards": 1}, "forward", "forwarded", forwards=1)

    def _daily_active(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"daily_active": 1})
        user = world.user(fact.data.user_id)
        # Once a day per user (a later day only: a day counted is never counted again), and only among the
        # users the coins were allocated to, the rate's denominator.
        if user.allocated and (user.active_day is None or day > user.active_day):
            user.active_day = day
            world.touch("users", fact.data.user_id)
            self._market(fact, day, {"daily_active_allocated": 1})

    def _deep_learner(self, world: World, fact: Fact, day: str) -> None:
        agent = world.agent(fact.data.user_id)
        if agent.cohort != "deep":
            agent.cohort = "deep"
            world.touch("agents", fact.data.user_id)
            self._market(fact, day, {"deep_learners": 1})

    def _struggle(self, world: World, fact: Fact, day: str) -> None:
        # a push from a call names the stage but no funnel step
        step = fact.data.step.value if fact.data.step else "none"
        self._market(fact, day, {"struggle_pushes": 1, f"struggle:{step}": 1})

