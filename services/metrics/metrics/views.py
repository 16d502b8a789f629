"""Views of counters: the counts and rates the HTTP API answers for each family's counters (calls, pool,
marketplace, tips, training), from the counts summed over a period."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .domain import (
    CALL_FIELDS,
    FIRST_CALL_BUCKETS,
    HOLDER_BUCKETS,
    LEAD_STEPS,
    POOL_OPERATIONS,
    TIP_STEPS,
    USER_STEPS,
    bucket_fields,
    funnel_rows,
    ratio,
    relearn_rate,
)
from .indicators import agent_view


def call_view(c: Mapping[str, int]) -> dict[str, Any]:
    first_calls = sum(v for k, v in c.items() if k.startswith("first_call:"))
    return {**{name: c.get(name, 0) for name in CALL_FIELDS},
            "connect_rate": ratio(c.get("connected", 0), c.get("outbound", 0)),
            "effective_rate": ratio(c.get("effective", 0), c.get("outbound", 0)),
            "deep_rate": ratio(c.get("deep", 0), c.get("outbound", 0)),
            "avg_talk_seconds": ratio(c.get("talk_seconds", 0), c.get("connected", 0)),
            "first_calls": first_calls,
            "avg_first_call_seconds": ratio(c.get("first_call_sum", 0), first_calls),
            "first_call_delay": _distribution(c, "first_call", FIRST_CALL_BUCKETS)}


def _distribution(c: Mapping[str, int], prefix: str, bounds: Sequence[float]) -> dict[str, int]:
    return {name.split(":", 1)[1]: c.get(name, 0) for name in bucket_fields(prefix, bounds)}


def pool_view(c: Mapping[str, int]) -> dict[str, Any]:
    holdings = c.get("assigned", 0) + c.get("claimed", 0)
    processed = c.get("processed_first", 0) + c.get("processed_repeat", 0)
    return {**{name: c.get(name, 0) for name in POOL_OPERATIONS},
            "received": c.get("created", 0) + holdings,
            "reclaimed": sum(c.get(name, 0) for name in POOL_OPERATIONS if name.startswith("reclaimed_")),
            "holdings": holdings, "processed": processed,
            "processed_first_pass": c.get("processed_first", 0), "processed_repeat": c.get("processed_repeat", 0),
            "processing_rate": ratio(processed, holdings),
            "first_pass_share": ratio(c.get("processed_first", 0), processed),
            "won_amount_fen": c.get("won_fen", 0), "won_confirmed_amount_fen": c.get("won_confirmed_fen", 0),
            "avg_holders_before_won": ratio(c.get("won_holders_sum", 0), c.get("won", 0)),
            "holders_before_won": _distribution(c, "won_holders", HOLDER_BUCKETS)}


def market_view(c: Mapping[str, int]) -> dict[str, Any]:
    users = {step: c.get(f"users:{step}", 0) for step in USER_STEPS}
    pairs = {step: c.get(f"tip_users:{step}", 0) for step in TIP_STEPS}
    counts = {k: v for k, v in c.items() if not k.startswith(("users:", "tip_users:")) and k != "holders"}
    return {"users": funnel_rows(users, USER_STEPS), "tips": tip_rates(pairs, c.get("tips_approved", 0),
                                                                       c.get("tips_rejected", 0)),
            "counts": dict(sorted(counts.items())),
            "users_reclaimed": c.get("users_reclaimed", 0), "users_relearned": c.get("users_relearned", 0),
            "reclaimed_relearned": c.get("reclaimed_relearned", 0), "relearn_rate": relearn_rate(c)}


def tip_rates(pairs: Mapping[str, int], approved: int, rejected: int) -> dict[str, Any]:
    """The tip funnel's rates: review pass, purchase (buyers / visitors), learning (learners / buyers),
    forward (forwarders / learners) and rewatch (rewatchers / learners)."""
    return {"review_pass_rate": ratio(approved, approved + rejected),
            "purchase_rate": ratio(pairs.get("bought", 0), pairs.get("visited", 0)),
            "learning_rate": ratio(pairs.get("learned", 0), pairs.get("bought", 0)),
            "forward_rate": ratio(pairs.get("forwarded", 0), pairs.get("learned", 0)),
            "rewatch_rate": ratio(pairs.get("rewatched", 0), pairs.get("learned", 0)),
            **{step: pairs.get(step, 0) for step in TIP_STEPS}}


def tip_view(c: Mapping[str, int]) -> dict[str, Any]:
    return {**tip_rates(c, c.get("approved", 0), c.get("rejected", 0)),
            **{name: c.get(name, 0) for name in ("submitted", "approved", "rejected", "visits", "purchases",
                                                 "ratings", "stars", "forwards")},
            "avg_rating": ratio(c.get("stars", 0), c.get("ratings", 0))}


def training_view(c: Mapping[str, int], agents: int) -> dict[str, Any]:
    view = agent_view(c)
    view["funnel"] = funnel_rows(c, LEAD_STEPS[1:])
    for name in ("outbound", "effective", "talk_seconds", "won"):
        view[f"{name}_per_agent"] = ratio(c.get(name, 0), agents)
    return view


def lead_view(c: Mapping[str, int], base: str | None) -> dict[str, Any]:
    """The lead funnel's counts; its rates over total are over `base` when given (e.g. the leads received)."""
    return {"received": c.get("received", 0), "rejected": c.get("rejected", 0),
            "steps": funnel_rows(c, LEAD_STEPS, base)}
