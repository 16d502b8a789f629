"""The do-not-call moments of the simulated day: mid-morning a customer complains about being called
(leads.complaint.v1, from the service desk) while an agent holds the lead; after lunch an operator puts the
number of a lead still in the public pool on the list (lead-intake's PUT /v1/do-not-call/{phone}). Each
number's lead is closed in whichever pool it is; a little later somebody tries the number again (the
holder, or any agent for a pooled lead) and the allocator refuses the dial; at the end of the day the
leads' statuses are read back."""

from __future__ import annotations

import time as wallclock
from datetime import time
from urllib.parse import quote

from .day_state import OPERATOR, SOURCE, Held, Listing
from .desks import Desks

COMPLAINT_AT = time(10, 30)
OPERATOR_LISTS_AT = time(14, 0)
SETTLE_SECONDS = 3.0  # the list reaches every pool within a second; the second try waits this long
LISTING_CANDIDATES = 20
COMPLAINT = "客户投诉：反复来电骚扰，要求不再拨打"


class DoNotCall(Desks):
    """The complaint, the operator's listing, the dials tried after them, and the leads' end statuses."""

    async def do_not_call_moments(self) -> None:
        if self.tick == self.clock.tick_of(COMPLAINT_AT):
            await self.complain()
        if self.tick >= self.clock.tick_of(OPERATOR_LISTS_AT) and not self._operator_listed():
            await self.operator_lists()  # again each tick until a pooled number is found: a slow pipeline
        for listing in self.listings:
            if not listing.tried and wallclock.monotonic() - listing.listed_at >= SETTLE_SECONDS:
                await self.try_listed(listing)

    def _operator_listed(self) -> bool:
        return any(listing.source == "operator" for listing in self.listings)

    def note_unlisted(self) -> None:
        """At the end of the day: the operator never found a number still in the public pool."""
        if not self._operator_listed():
            self.count["do-not-call: no pooled number to list"] += 1

    def _arrives_again(self) -> set[str]:
        """Numbers the outside systems will send again after now (a later repeat would be refused at the
        door and change the day's expected figures; those numbers are left alone)."""
        return {lead.phone_e164 for lead in self.plan.leads if lead.tick >= self.tick and lead.phone_e164}

    async def complain(self) -> None:
        later = self._arrives_again()
        talked = sorted(((desk, held) for desk in self.desks.values() for held in desk.open_leads()
                         if held.connects and held.phone and held.phone not in later), key=lambda d: d[1].lead_id)
        if not talked:
            self.count["do-not-call: no complaint (nobody talked to yet)"] += 1
            return
        desk, held = self.rng("complaint").choice(talked)
        await self.emit("leads.complaint.v1", {"lead_id": held.lead_id, "reason": COMPLAINT},
                        source=SOURCE["service"], key=held.lead_id, at=self.sim_now())  # never the number
        await self.flush()
        held.neglected = True  # the agent heard it; only the later try (try_listed) dials it again
        self.listings.append(Listing(held.phone or "", held.lead_id, "complaint", desk.agent.agent_id,
                                     wallclock.monotonic()))
        self.count["do-not-call listed"] += 1

    async def operator_lists(self) -> None:
        """An operator lists the number of a lead that waits in the public pool (the newest lead the
        allocator still has pooled, of a few candidates)."""
        held = {h.phone for desk in self.desks.values() for h in desk.held.values()}
        later = self._arrives_again()
        # the newest first: they are the likeliest to be still unclaimed
        candidates = [lead.phone_e164 for lead in sorted(self.plan.leads, key=lambda lead: -lead.tick)
                      if lead.kind == "new" and lead.tick < self.tick - 2 and lead.phone_e164
                      and lead.phone_e164 not in held | later]
        for phone in candidates[:LISTING_CANDIDATES]:
            lead_id = await self._pooled_lead(phone)
            if lead_id is not None:
                await self.apis["lead-intake"].call("PUT", f"/v1/do-not-call/{quote(phone)}", actor=OPERATOR,
                                                    role="operator", json={"reason": "运营：客户要求不再联系"})
                self.listings.append(Listing(phone, lead_id, "operator", None, wallclock.monotonic()))
                self.count["do-not-call listed"] += 1
                return

    async def _pooled_lead(self, phone: str) -> str | None:
        """The id of the number's lead if it waits in a public pool now."""
        found = await self.apis["lead-intake"].get("/v1/leads", params={"phone": phone, "limit": 1}, actor=OPERATOR,
                                                   role="operator")
        if not found["items"]:
            return None
        lead_id = found["items"][0]["lead_id"]
        lead = await self.apis["allocator"].get(f"/v1/leads/{lead_id}", actor=OPERATOR, role="operator", ok=(404,))
        return lead_id if lead is not None and lead["status"] == "pooled" else None

    async def try_listed(self, listing: Listing) -> None:
        """Somebody dials the listed number again: its holder (who missed the notification), or for a
        pooled lead any agent; the dial is asked for first, as every dial is, and counted if refused."""
        listing.tried = True
        desk = self.desks[listing.holder] if listing.holder else next(iter(self.desks.values()))
        held = desk.held.get(listing.lead_id) or Held(listing.lead_id, None, False, listing.phone)
        self.count["do-not-call: dials tried after listing"] += 1
        if await self.may_dial(desk, held):
            self.count["do-not-call: dials allowed after listing"] += 1

    async def read_listings(self) -> None:
        """Each listed number's lead as the allocator has it at the end of the day."""
        for listing in self.listings:
            lead = await self.apis["allocator"].get(f"/v1/leads/{listing.lead_id}", actor=OPERATOR, role="operator")
            listing.status = lead["status"]
            if listing.status == "do_not_call":
                self.count["do-not-call leads closed"] += 1
                self.count[f"do-not-call leads closed: {'held' if listing.holder else 'pooled'}"] += 1

