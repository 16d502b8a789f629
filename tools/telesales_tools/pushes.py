"""What the platform pushes during the simulated day, and what the agents make of it: the marketplace's
struggle push (a call that ends at an objection without progress brings the agent the best-rated tip of
that stage: the agent reads it at its next turn, may buy it and learn it), and distribution on arrival (a
routing rule that pushes new leads to a team's agents instead of leaving them in the pool for claims)."""

from __future__ import annotations

from typing import Any

from . import scenario as sc
from .day_state import DayState, Desk

PUSH_BUY_RATE = {"A": 0.5, "B": 0.6, "C": 0.7, "D": 0.75, "E": 0.8}  # who buys a tip pushed to it
ARRIVAL_STRATEGY = "even_by_open"


def arrival_rule(plan: sc.Scenario) -> dict[str, Any]:
    """The routing rule of the demo's distribution on arrival: MBA leads land in their own pool and are
    pushed at once to the first team's agents by ARRIVAL_STRATEGY (caps, grades, working status and contact
    pressure are the allocator's to respect: its RoutingRule.on_arrival)."""
    return {"pool_id": f"{sc.BUSINESS_LINE}-mba", "business_line": sc.BUSINESS_LINE, "product_interests": ["MBA"],
            "priority": 10, "on_arrival": {"strategy": ARRIVAL_STRATEGY, "team_id": plan.teams[0].team_id}}


class Pushes(DayState):
    """The agents' side of the struggle push, and the allocator's push on arrival switched on."""

    async def read_push(self, desk: Desk) -> None:
        """The agent looks at its latest struggle push (the console's notification); a new one it may buy."""
        desk.stalled = False
        agent = desk.agent.agent_id
        market = self.apis["marketplace"]
        latest = await market.get(f"/v1/agents/{agent}/recommendations/latest", actor=agent, ok=(404,))
        if latest is None or latest.get("trigger") not in ("call", "window") or not latest.get("tips"):
            return
        if latest["recommendation_id"] in desk.pushes_seen:
            return
        desk.pushes_seen.add(latest["recommendation_id"])
        self.count["pushes read"] += 1
        tip_id = latest["tips"][0]["tip_id"]
        await market.post(f"/v1/tips/{tip_id}/visits", actor=agent)  # the notification opens the tip
        self.count["tip visits"] += 1
        r = self.rng("pushed", agent, latest["recommendation_id"])
        if r.random() >= PUSH_BUY_RATE[desk.agent.grade] or (agent, tip_id) in self.purchases:
            return
        if await market.post(f"/v1/tips/{tip_id}/purchases", actor=agent, ok=(409,)) is not None:
            self.count["pushed tips bought"] += 1
            self.pushed_purchases.add((agent, tip_id))
            self.purchases[(agent, tip_id)] = self.tick + 2

    async def configure_push_on_arrival(self) -> None:
        """Add the arrival rule to the tenant's routing: from then on MBA leads are pushed as they arrive."""
        allocator = self.apis["allocator"]
        current = await allocator.get("/v1/config/routing")
        await allocator.call("PUT", "/v1/config/routing", json=[*current["value"], arrival_rule(self.plan)],
                             headers={"If-Match": f'"{current["version"]}"'})
        self.count["arrival rules"] += 1
