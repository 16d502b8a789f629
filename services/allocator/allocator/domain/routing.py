"""Routing: which public pool a qualified lead lands in, and whether that pool pushes its leads as they
arrive (to a team's agents by a strategy) or leaves them to be claimed. Pure (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from telesales_contracts.allocation import DistributionStrategy

Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class ArrivalPush(BaseModel):
    """A pool that pushes each arriving lead at once (as assignment rules do) instead of waiting for claims:
    to an agent of `team_id` by `strategy`, among the agents working now who may take it."""

    model_config = ConfigDict(extra="forbid")

    team_id: Name
    strategy: DistributionStrategy = DistributionStrategy.EVEN_BY_OPEN


class RoutingRule(BaseModel):
    """Sends matching leads to a public pool. Empty conditions match anything. With `on_arrival` the pool
    pushes its leads as they arrive; without it, agents pull them by claim."""

    model_config = ConfigDict(extra="forbid")

    pool_id: Name
    business_line: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    product_interests: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, description="Case-insensitive exact matches of the lead's product interest.")
    region_prefixes: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, description="The lead's region must start with one of these, e.g. 广东.")
    min_score: int = Field(default=0, ge=0, le=100)
    max_score: int = Field(default=100, ge=0, le=100)
    priority: int = Field(default=100, description="Lower is tried first.")
    on_arrival: ArrivalPush | None = Field(default=None, description="Push each arriving lead to an agent of a "
                                           "team by a strategy; None: the pool's leads wait to be claimed.")

    @model_validator(mode="after")
    def _score_range(self) -> RoutingRule:
        if self.min_score > self.max_score:
            raise ValueError("min_score must not exceed max_score")
        return self

    def matches(self, *, business_line: str, product_interest: str | None, region: str | None, score: int) -> bool:
        if self.business_line is not None and self.business_line != business_line:
            return False
        if self.product_interests:
            wanted = {p.strip().casefold() for p in self.product_interests}
            if product_interest is None or product_interest.strip().casefold() not in wanted:
                return False
        if self.region_prefixes and (region is None or not any(region.startswith(p) for p in self.region_prefixes)):
            return False
        return self.min_score <= score <= self.max_score


def route_pool(rules: Sequence[RoutingRule], *, business_line: str, product_interest: str | None,
               region: str | None, score: int) -> str:
    """The public pool of a lead: the first matching rule by priority, else its business line's pool."""
    rule = matching_rule(rules, business_line=business_line, product_interest=product_interest, region=region,
                         score=score)
    return rule.pool_id if rule is not None else default_pool_id(business_line)


def matching_rule(rules: Sequence[RoutingRule], *, business_line: str, product_interest: str | None,
                  region: str | None, score: int) -> RoutingRule | None:
    """The routing rule that places a lead: the first matching one by priority, None if none matches."""
    for rule in sorted(rules, key=lambda r: (r.priority, r.pool_id)):
        if rule.matches(business_line=business_line, product_interest=product_interest, region=region, score=score):
            return rule
    return None


def arrival_push(rules: Sequence[RoutingRule], pool_id: str) -> ArrivalPush | None:
    """How a pool pushes its arriving leads: the `on_arrival` of the first rule (by priority) naming the pool
    that says one, None for a pool whose leads wait to be claimed."""
    for rule in sorted(rules, key=lambda r: (r.priority, r.pool_id)):
        if rule.pool_id == pool_id and rule.on_arrival is not None:
            return rule.on_arrival
    return None


def default_pool_id(business_line: str) -> str:
    return business_line
