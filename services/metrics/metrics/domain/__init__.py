"""What the metrics service counts, as pure functions and value classes (no I/O).

A batch of events (every consumed topic together) is applied, in the order of their own times, to the
states of the leads, agents, users and user-tip pairs it names (read from MongoDB by the service) and
turns into counter increments per tenant, family, day and labels.

Where to find what:
- lead_funnel.py: the lead funnel (total -> valid -> ... -> paid), counted once per lead and step.
- pool.py: pool operations and holders (assigned, claimed, returned, reclaimed, closed, won).
- calls.py: calls (connected, effective, deep, talk time), a holding's first call (processed).
- roster.py: agents' teams, roles and grades.
- marketplace.py: the marketplace's user and tip funnels, tips, learning cohorts (the training effect).
- coins.py: the ledger's coins and the accounts holding them.
- dead_letters.py: the platform's dead letters.
- batch.py: a batch applying every family's rules in time order; counting.py: the counters they add to.
- vocabulary.py: steps, families, buckets, periods; states.py: the states and their documents;
  facts.py: the events as read (times, fields read); needs.py: what a batch reads first;
  readback.py: funnels and rates of counters read back; generated.py: the one generated function.
"""

from .batch import RULES, Batch
from .facts import EVENT_TIME, READ_FIELDS, Fact, FactFailed, Rules, fact_time, time_getter
from .needs import holding_agents, needs
from .readback import add_counts, agent_rates, daily_active_rate, funnel_rows, histogram, relearn_rate
from .states import AgentState, LeadState, Needs, UserState, UserTipState, World, state_doc, state_from
from .vocabulary import (
    AGENT_FIELDS,
    ALL,
    ALL_TIME,
    CALL_DURATION_BUCKETS,
    CALL_FIELDS,
    CHANNELS,
    COHORTS,
    DAILY,
    FAMILY_DIMS,
    FIRST_CALL_BUCKETS,
    FUNNEL_FIELDS,
    HOLDER_BUCKETS,
    LEAD_STEPS,
    NONE,
    POOL_OPERATIONS,
    TIP_STEPS,
    UNKNOWN,
    USER_STEPS,
    CounterKey,
    Increments,
    aware,
    bucket_field,
    bucket_fields,
    by_period,
    day_of,
    days_between,
    iso_week,
    ratio,
)

__all__ = [
    "AGENT_FIELDS", "ALL", "ALL_TIME", "CALL_DURATION_BUCKETS", "CALL_FIELDS", "CHANNELS", "COHORTS", "DAILY",
    "EVENT_TIME", "FAMILY_DIMS", "FIRST_CALL_BUCKETS", "FUNNEL_FIELDS", "HOLDER_BUCKETS", "LEAD_STEPS", "NONE",
    "POOL_OPERATIONS", "READ_FIELDS", "RULES", "TIP_STEPS", "UNKNOWN", "USER_STEPS", "AgentState", "Batch",
    "CounterKey", "Fact", "FactFailed", "Increments", "LeadState", "Needs", "Rules", "UserState", "UserTipState",
    "World", "add_counts", "agent_rates", "aware", "daily_active_rate", "bucket_field", "bucket_fields", "by_period", "day_of",
    "days_between", "fact_time", "funnel_rows", "histogram", "holding_agents", "iso_week", "needs", "ratio", "relearn_rate",
    "state_doc", "state_from", "time_getter",
]
