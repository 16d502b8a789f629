"""The agents at their desks during the simulated day: refresh what they hold, claim by grade, ask before
each dial and dial (the dialer logs each call, with the stage it ended at), move leads through the funnel,
win, close or return them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from . import scenario as sc
from .calls_plan import advance_chance, call_ending
from .day_state import SOURCE, Desk, Held
from .pushes import Pushes

REFRESH_EVERY = 12  # ticks between an agent's look at the leads it holds (an hour)
REST_TICKS = 12  # a lead the allocator says rests is not tried again for an hour


class Desks(Pushes):
    """Each agent's turn at its desk, tick by tick; what it holds is its Desk."""

    async def desk_turn(self, desk: Desk) -> None:
        agent, tick = desk.agent, self.tick
        r = self.rng("turn", agent.agent_id, tick)
        if desk.stalled:
            await self.read_push(desk)
        if tick - desk.refreshed >= REFRESH_EVERY:
            await self.refresh(desk)
        if len(desk.open_leads()) < sc.HOLD_TARGET[agent.grade] and tick < self.clock.ticks - 6:
            await self.claim(desk, r)
        cursor = r.uniform(0, 2)
        todo = sorted((h for h in desk.open_leads() if not h.neglected and h.rests_until <= tick),
                      key=lambda h: (h.dials > 0, h.dials))
        for held in todo[:sc.DIALS[agent.grade]]:
            cursor += await self.dial(desk, held, cursor)

    async def refresh(self, desk: Desk) -> None:
        """The agent's private pool as the allocator has it: reclaimed leads are gone, leads pushed to the
        agent (distribution on arrival) are new to it."""
        page = await self.apis["allocator"].get(f"/v1/agents/{desk.agent.agent_id}/leads",
                                                params={"limit": 1000}, actor=desk.agent.agent_id)
        holding = {item["lead_id"]: item for item in page["items"]}
        for lead_id in [lead_id for lead_id in desk.held if lead_id not in holding]:
            if not desk.held.pop(lead_id).done:
                self.count["taken back"] += 1
        for lead_id, item in holding.items():
            if lead_id not in desk.held and item.get("status") == "held":
                phone = item.get("phone")
                desk.held[lead_id] = Held(lead_id, self.plan.customers.get(phone or ""), False, phone)
                self.count["leads pushed to desks"] += 1
        desk.refreshed = self.tick

    async def claim(self, desk: Desk, r: Any) -> None:
        agent = desk.agent
        want = min(sc.CLAIM_SIZE[agent.grade], sc.HOLD_TARGET[agent.grade] - len(desk.open_leads()))
        tiers = ["fresh"] if self.tick < self.clock.ticks // 2 else ["fresh", "abandoned-1"]
        for tier in tiers:
            result = await self.apis["allocator"].post(f"/v1/agents/{agent.agent_id}/claims",
                                                       json={"tier_id": tier, "count": want}, actor=agent.agent_id,
                                                       ok=(403, 409, 429))
            self.count["claims"] += 1
            if result is None:
                self.count["claims refused"] += 1
                return
            for lead in result["leads"]:
                customer = self.plan.customers.get(lead.get("phone") or "")
                neglected = r.random() > sc.DILIGENCE[agent.grade]
                desk.held[lead["lead_id"]] = Held(lead["lead_id"], customer, neglected, lead.get("phone"))
            self.count["leads claimed"] += result["claimed"]
            if result["claimed"]:
                return

    async def may_dial(self, desk: Desk, held: Held) -> bool:
        """Ask the allocator before dialling, as the console and a dialer do; a refusal is counted by its
        reason and the lead put aside (closed, on the do-not-call list, no longer held) or left to rest."""
        agent = desk.agent.agent_id
        verdict = await self.apis["allocator"].post(f"/v1/leads/{held.lead_id}/dial", actor=agent,
                                                    json={"agent_id": agent}, ok=(404,))
        if verdict is not None and verdict["allowed"]:
            return True
        reason = "unknown_lead" if verdict is None else verdict["reason"]
        self.count["dials refused"] += 1
        self.count[f"dials refused: {reason}"] += 1
        if reason in ("do_not_call", "closed", "won"):
            held.done = True
        elif reason == "resting":
            held.rests_until = self.tick + REST_TICKS
        else:
            self.lost(desk, held)
        return False

    async def dial(self, desk: Desk, held: Held, cursor: float) -> float:
        """One dial at `cursor` minutes into the agent's desk session; the minutes it took."""
        if not await self.may_dial(desk, held):
            return 0.2
        agent = desk.agent
        r = self.rng("dial", agent.agent_id, held.lead_id, held.dials)
        customer = held.customer or sc.Customer(0.3, None, 0)
        connected = r.random() < customer.answer_rate
        seconds = 0
        if connected:
            seconds = int(min(1800, max(8, r.lognormvariate(4.2, 0.9) * sc.SKILL[agent.grade])))
        started = self.sim_now(cursor)
        held.dials += 1
        call = {"call_id": f"call-{uuid.UUID(int=r.getrandbits(128)).hex[:16]}", "agent_id": agent.agent_id,
                "lead_id": held.lead_id, "started_at": started.isoformat(), "duration_seconds": seconds,
                "connected": connected}
        decision = self.decide(desk, held, seconds, r) if connected else None
        if connected:
            advanced_to = decision[1] if decision and decision[0] == "advance" else None
            stage, outcome = call_ending(seconds=seconds, step_before=held.step, advanced_to=advanced_to,
                                         weak=desk.weak, r=r)
            call |= {"stage_reached": stage, "outcome": outcome}
            if stage == "objection_handling" and outcome == "no_progress":
                desk.stalled = True  # the marketplace pushes a tip for it; the agent reads it next turn
                self.count["calls stalled at an objection"] += 1
        await self.emit("calls.logged.v1", call, source=SOURCE["dialer"], key=held.lead_id,
                        at=started + timedelta(seconds=seconds))
        self.count["calls"] += 1
        if connected:
            held.connects += 1
            self.count["connected"] += 1
            await self.act(desk, held, decision)
        elif held.dials >= 4 and held.connects == 0:
            await self.release(desk, held, "return", "多次未接通")
        return (seconds + r.uniform(20, 45)) / 60 + r.uniform(0.5, 1.5)

    def decide(self, desk: Desk, held: Held, seconds: int, r: Any) -> tuple[str, Any, Any] | None:
        """What a connected call leads to: ("advance", step, None), ("close" | "return", reason, None) or
        nothing."""
        customer = held.customer or sc.Customer(0.3, None, 0)
        reach = -1 if customer.reach is None else sc.STEPS.index(customer.reach)
        if reach < 0:
            return ("close", "非目标客户", None) if r.random() < 0.7 else None
        target = min(reach, held.step + 1 + (seconds >= 180))  # a deep call goes further
        if held.step < reach and seconds >= 60 and r.random() < advance_chance(desk.agent, desk.weak, held.step + 1):
            return "advance", target, None
        if held.step >= reach and held.connects >= 2:
            return ("close" if r.random() < 0.8 else "return"), "客户暂不考虑", None
        return None

    async def act(self, desk: Desk, held: Held, decision: tuple[str, Any, Any] | None) -> None:
        if decision is None:
            return
        if decision[0] == "advance":
            await self.advance(desk, held, decision[1])
        else:
            await self.release(desk, held, decision[0], decision[1])

    async def advance(self, desk: Desk, held: Held, step: int) -> None:
        agent = desk.agent.agent_id
        name = sc.STEPS[step]
        if name == "paid":
            amount = held.customer.amount_fen if held.customer else 500_000
            done = await self.apis["allocator"].post(f"/v1/leads/{held.lead_id}/win", actor=agent,
                                                     json={"agent_id": agent, "amount_fen": amount}, ok=(409,))
            if done is None:
                return self.lost(desk, held)
            held.step, held.done = step, True
            self.count["won"] += 1
            self.count["won yuan"] += amount // 100
            await self.confirm_win(desk, held)
            return
        body = {"agent_id": agent, "stage_percent": sc.STAGE_PERCENT[name], "funnel_step": name}
        if await self.apis["allocator"].post(f"/v1/leads/{held.lead_id}/stage", json=body, actor=agent,
                                             ok=(409,)) is None:
            return self.lost(desk, held)
        held.step = step
        self.count["stage changes"] += 1
        if name == "plan":
            await self.mark_deal(desk, held)

    async def confirm_win(self, desk: Desk, held: Held) -> None:
        """The agent's win counts toward grades and rankings once confirmed: its supervisor confirms it, but for
        the second win of the day and every fifth after, which the customer did not pay: the supervisor rejects
        it, and the agent holds the lead again."""
        agent = desk.agent
        if self.count["won"] % 5 == 2:
            rejected = await self.apis["allocator"].post(
                f"/v1/leads/{held.lead_id}/win/rejection", actor=agent.supervisor_id, role="supervisor",
                team=agent.team_id, json={"reason": "客户未付款"}, ok=(409,))
            if rejected is not None:
                self.count["wins rejected"] += 1
            return
        confirmed = await self.apis["allocator"].post(
            f"/v1/leads/{held.lead_id}/win/confirmation", actor=agent.supervisor_id, role="supervisor",
            team=agent.team_id, json={}, ok=(409,))
        if confirmed is not None:
            self.count["wins confirmed"] += 1

    async def mark_deal(self, desk: Desk, held: Held) -> None:
        """A plan agreed: the agent asks its supervisor to protect the lead from reclaim (a deal in
        progress), and the supervisor approves; the mark lasts the policy's deal_mark_days."""
        agent = desk.agent
        asked = await self.apis["allocator"].post(f"/v1/leads/{held.lead_id}/deal-mark", actor=agent.agent_id,
                                                  json={"agent_id": agent.agent_id, "note": "方案已认可"},
                                                  ok=(409,))
        if asked is None or not asked.get("deal_mark"):
            return
        decided = await self.apis["allocator"].post(
            f"/v1/leads/{held.lead_id}/deal-mark/decision", actor=agent.supervisor_id, role="supervisor",
            team=agent.team_id, json={"request_id": asked["deal_mark"]["request_id"], "decision": "approved"},
            ok=(409,))
        if decided is not None:
            self.count["deals marked"] += 1

    async def release(self, desk: Desk, held: Held, how: str, reason: str) -> None:
        agent = desk.agent.agent_id
        if await self.apis["allocator"].post(f"/v1/leads/{held.lead_id}/{how}", ok=(409,), actor=agent,
                                             json={"agent_id": agent, "reason": reason}) is None:
            return self.lost(desk, held)
        held.done = True
        self.count["closed" if how == "close" else "returned"] += 1

    def lost(self, desk: Desk, held: Held) -> None:
        """The lead was reclaimed before the agent got back to it."""
        desk.held.pop(held.lead_id, None)
        self.count["taken back"] += 1
