"""Tiers as MongoDB filters over pooled leads: a tier's conditions (what claims take), and the leads an
agent's grade opens in a pool (what 轮询申领 serves). Pure: builds documents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..domain import Tier, TierFilter

Doc = dict[str, Any]


def tier_query(tier_filter: TierFilter) -> Doc:
    """The MongoDB filter of a tier's conditions over pooled leads (TierFilter.matches, as a query)."""
    query: Doc = {}
    if tier_filter.never_dialed is True:
        query["call_count"] = 0
    elif tier_filter.never_dialed is False:
        query["call_count"] = {"$gt": 0}
    drops: Doc = {}
    if tier_filter.min_drops is not None:
        drops["$gte"] = tier_filter.min_drops
    if tier_filter.max_drops is not None:
        drops["$lte"] = tier_filter.max_drops
    if drops:
        query["drop_count"] = drops
    if tier_filter.buyer is not None:
        query["buyer"] = tier_filter.buyer
    if tier_filter.min_score is not None:
        query["score"] = {"$gte": tier_filter.min_score}
    return query


def opened_query(opening: Sequence[Tier], shown: Sequence[Tier]) -> Doc:
    """Leads in one of the `opening` tiers, or in none of the `shown` ones (domain.pushing.grade_filter):
    what a grade opens, as a filter (`grade_opens`, as a query)."""
    clauses: list[Doc] = [{"$nor": [tier_query(t.filter) for t in shown]}] if shown else [{}]
    if opening:
        clauses.append({"$or": [tier_query(t.filter) for t in opening]})
    return {"$or": clauses}
