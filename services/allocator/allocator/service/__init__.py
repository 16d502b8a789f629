"""The service layer of leads: takes validated events and requests, asks the Lead aggregate
(domain/lead.py) and the rules (domain/, distribution.py), commits through the store and announces.
One module per job; LeadService is all of them over the same collaborators (core.py).

Every change of a lead's holder is one conditional single-document update that also appends the event
announcing it to the lead's embedded outbox; the relay publishes it afterwards."""

from __future__ import annotations

from .activity import Activity
from .agent_acts import AgentActs
from .claiming import Claiming, ClaimResult
from .core import agent_facts
from .dialing import Dialing
from .distributing import DistributionOutcome
from .intake import Intake
from .reclaim import Reclaim
from .wins import Wins


class LeadService(Intake, Claiming, AgentActs, Activity, Reclaim, Dialing, Wins):
    """Leads: intake, claims, push distribution, the agent's acts, activity from outside, reclaim, who may
    dial what (the do-not-call list), confirming wins, and the person's consent."""


__all__ = ["ClaimResult", "DistributionOutcome", "LeadService", "agent_facts"]
