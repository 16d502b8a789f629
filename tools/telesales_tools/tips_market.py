"""The marketplace during the simulated day: top agents write tips that a reviewer approves, agents buy,
learn, rate and forward them, and sellers redeem their earnings."""

from __future__ import annotations

from . import scenario as sc
from .day_state import REVIEWER, DayState

PUSHED_LEARN_RATE = 0.85  # who learns a tip it bought after a struggle push


class TipsMarket(DayState):
    """The tips' authors, reviewer, buyers and sellers, at the ticks the plan gives them."""

    async def write_tip(self, tip: sc.TipPlan) -> None:
        market = self.apis["marketplace"]
        await market.post("/v1/tips", actor=tip.author_id, json={
            "id": tip.tip_id, "title": tip.title, "summary": tip.summary, "body": tip.body, "stage": tip.stage,
            "product_line": sc.BUSINESS_LINE, "tags": list(tip.tags), "price": tip.price})
        await market.post(f"/v1/tips/{tip.tip_id}/versions/1/submit", actor=tip.author_id)
        self.count["tips written"] += 1

    async def review(self) -> None:
        market = self.apis["marketplace"]
        for tip in self.plan.tips:
            checks = {item: True for item in sc.CHECKLIST} | ({} if tip.passes_review else {"compliant": False})
            comment = None if tip.passes_review else "含有不实承诺（包过），请修改后再提交"
            await market.post(f"/v1/tips/{tip.tip_id}/versions/1/review", actor=REVIEWER, role="operator",
                              json={"checks": checks, "comment": comment})
            self.count["tips listed" if tip.passes_review else "tips rejected"] += 1

    async def shop(self, shopper: sc.Shopper) -> None:
        market = self.apis["marketplace"]
        r = self.rng("shop", shopper.agent_id)
        authors = {t.tip_id: t.author_id for t in self.plan.tips}
        for tip_id in shopper.tips:
            await market.post(f"/v1/tips/{tip_id}/visits", actor=shopper.agent_id)
            self.count["tip visits"] += 1
            if authors[tip_id] == shopper.agent_id or r.random() >= shopper.buy_rate:
                continue
            if await market.post(f"/v1/tips/{tip_id}/purchases", actor=shopper.agent_id, ok=(409,)) is not None:
                self.count["purchases"] += 1
                self.purchases[(shopper.agent_id, tip_id)] = self.tick + 2

    async def learn(self, buyer: str, tip_id: str) -> None:
        """Once the ledger has paid: watch the tip, maybe again, rate it and pass it on to a teammate."""
        market = self.apis["marketplace"]
        mine = await market.get(f"/v1/tips/{tip_id}/purchases/mine", actor=buyer)
        if mine["status"] == "pending":
            self.purchases[(buyer, tip_id)] = self.tick + 2
            return
        del self.purchases[(buyer, tip_id)]
        if mine["status"] != "granted":
            self.count["purchases refused"] += 1
            return
        self.count["purchases granted"] += 1
        pushed = (buyer, tip_id) in self.pushed_purchases  # bought after a struggle push (pushes.py)
        shopper = next((s for s in self.plan.shoppers if s.agent_id == buyer), None)
        learn_rate = PUSHED_LEARN_RATE if pushed or shopper is None else shopper.learn_rate
        r = self.rng("learn", buyer, tip_id)
        if r.random() >= learn_rate:
            return
        sessions = 2 if r.random() < 0.25 else 1
        for n in range(sessions):
            total = r.randint(150, 420)
            for progress in (35, 70, 100):
                await market.post(f"/v1/tips/{tip_id}/learning", actor=buyer, json={
                    "session_id": f"s{n}-{buyer}", "progress_percent": progress,
                    "session_seconds": total * progress // 100})
        self.learned[buyer] += 1
        self.count["tips learned"] += 1
        self.count["pushed tips learned"] += pushed
        if r.random() < 0.7:
            await market.post(f"/v1/tips/{tip_id}/ratings", actor=buyer, ok=(409,),
                              json={"stars": r.choices((5, 4, 3, 2), weights=(5, 4, 2, 1))[0]})
            self.count["ratings"] += 1
        if r.random() < 0.3:
            team = [a.agent_id for a in self.plan.agents
                    if a.team_id == self.desks[buyer].agent.team_id and a.agent_id != buyer]
            if team:
                await market.post(f"/v1/tips/{tip_id}/forwards", actor=buyer,
                                  json={"to_user_id": r.choice(team), "note": "这个话术很实用"})
                self.count["forwards"] += 1

    async def redeem(self) -> None:
        """Sellers turn their earnings into 话费 in the points mall (100 coins = 1 yuan)."""
        market = self.apis["marketplace"]
        for author in sorted({t.author_id for t in self.plan.tips}):
            seller = await market.get(f"/v1/sellers/{author}")
            yuan = seller["earnings"] // 100
            if yuan >= 1:
                await market.post(f"/v1/sellers/{author}/redemptions", actor=author,
                                  json={"id": f"redeem-{author}-{self.clock.day}", "yuan": yuan, "item": "话费"})
                self.count["redemptions"] += 1
                self.count["yuan redeemed"] += yuan
