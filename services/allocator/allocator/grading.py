"""Weekly agent grades, A to E, from the week's sales results (pure domain logic: no I/O).

The floor ranks its agents every ISO week, Monday 00:00 to the next Monday 00:00 in the floor's time
zone, and the grades decide who claims which leads the following week (published as `AgentGraded`).
With the default `GradingPolicy`:

- Ranking: by sales (fen) descending, then won deals descending. Agents with equal (sales, deals)
  share a rank (competition ranking: 1, 1, 3) and always get the same grade: a tie at a grade
  boundary goes to the better grade, never split across two.
- A: the 15 best ranks (`a_top_n`, ties included) plus everyone with at least 3,000 yuan
  (`a_min_sales_fen` = 300,000 fen; None turns this rule off). With `a_requires: both` (seed 002 reads
  both ways; the tenant decides) only the top 15 who also sold at least 3,000 yuan are A. An agent with
  no sales is never A.
- Sales are confirmed wins only (by an order or the supervisor): an agent's own declaration counts nothing.
- B, C, D: then, in rank order after A, the next 20 %, 30 % and 30 % of ALL ranked agents
  (`b_share`, `c_share`, `d_share`), each a count of round-half-up(share * n). Each grade takes its
  count from where the previous one stopped, so when A has taken more than its share the later grades
  simply start after A and the last ones may get fewer agents or none. A tie that straddles the end
  of a count joins the grade in full.
- E: everyone left, and always everyone with no sales.
- Promotion: the best ceil(10 % (`e_promote_share`) * number of E agents) of the E agents with sales,
  by rank and with ties at the edge included, move up to D (`promoted_from_e`).

Share arithmetic is done in decimal on the shares as written (0.14 * 50 is 7, not 7.000000000000001),
so an operator's 0.29 of 50 agents rounds to 15 as they would expect.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from telesales_contracts.roster import AGENT_GRADES

__all__ = [
    "GradeDecision",
    "GradingPolicy",
    "WeekResult",
    "grade_week",
    "iso_week",
    "previous_week",
    "week_bounds",
]


class GradingPolicy(BaseModel):
    """How the week's ranking is cut into grades. Operators edit it over HTTP."""

    model_config = ConfigDict(extra="forbid")

    a_top_n: int = Field(default=15, ge=0, description="The N best ranks (ties included) are A ...")
    a_min_sales_fen: int | None = Field(
        default=300_000, ge=0, description="... and so is everyone at or above this many fen (None: no such rule)."
    )
    a_requires: Literal["either", "both"] = Field(
        default="either", description="either: top N OR at least a_min_sales_fen is A; both: top N AND at least "
                                      "a_min_sales_fen (seed 002 reads both ways: the tenant decides).")
    b_share: float = Field(default=0.20, ge=0, le=1, description="Share of all ranked agents graded B, after A.")
    c_share: float = Field(default=0.30, ge=0, le=1, description="Share of all ranked agents graded C, after B.")
    d_share: float = Field(default=0.30, ge=0, le=1, description="Share of all ranked agents graded D; the rest are E.")
    e_promote_share: float = Field(
        default=0.10, ge=0, le=1, description="The best of E (with sales) by this share of E move up to D."
    )

    def a_rule_holds(self, *, top: bool, sales_fen: int) -> bool:
        """Whether an agent with sales, ranked in the top N (`top`) or not, is A. Without a_min_sales_fen, the
        top N only."""
        if self.a_min_sales_fen is None:
            return top
        enough = sales_fen >= self.a_min_sales_fen
        return (top and enough) if self.a_requires == "both" else (top or enough)

    @model_validator(mode="after")
    def _shares_fit(self) -> GradingPolicy:
        if _dec(self.b_share) + _dec(self.c_share) + _dec(self.d_share) > 1:
            raise ValueError("b_share + c_share + d_share must not exceed 1")
        return self


@dataclass(frozen=True, slots=True)
class WeekResult:
    """One agent's sales for the week graded."""

    agent_id: str
    sales_fen: int
    deals: int
    team_id: str | None = None

    def __post_init__(self) -> None:
        if not self.agent_id:
            raise ValueError("agent_id must not be empty")
        if self.sales_fen < 0:
            raise ValueError(f"sales_fen must be >= 0, got {self.sales_fen} for {self.agent_id}")
        if self.deals < 0:
            raise ValueError(f"deals must be >= 0, got {self.deals} for {self.agent_id}")


@dataclass(frozen=True, slots=True)
class GradeDecision:
    """An agent's grade for the coming week, with the ranking it came from."""

    agent_id: str
    grade: str
    previous_grade: str | None
    rank: int
    agents_ranked: int
    sales_fen: int
    deals: int
    promoted_from_e: bool
    team_id: str | None


def _dec(share: float) -> Decimal:
    # str() gives the shortest repr, i.e. the share as the operator wrote it.
    return Decimal(str(share))


def _round_half_up(share: float, n: int) -> int:
    return max(0, int((_dec(share) * n).to_integral_value(rounding=ROUND_HALF_UP)))


def _ceil(share: float, n: int) -> int:
    return max(0, math.ceil(_dec(share) * n))


def grade_week(
    results: Sequence[WeekResult], policy: GradingPolicy, previous: Mapping[str, str]
) -> list[GradeDecision]:
    """Grade every agent in `results`; `previous` maps agent ids to last week's grade.

    Returns one decision per agent, ordered by rank then agent id. Raises ValueError when an agent
    appears twice or a previous grade is not one of A to E."""
    if not results:
        return []
    seen: set[str] = set()
    for result in results:
        if result.agent_id in seen:
            raise ValueError(f"agent {result.agent_id} appears more than once in the week's results")
        seen.add(result.agent_id)
    groups, ranks = _tie_groups(results)
    grades, promoted = _grades_of_groups(groups, ranks, policy, agents=len(results))
    decisions: list[GradeDecision] = []
    for index, group in enumerate(groups):
        for result in group:
            before = previous.get(result.agent_id)
            if before is not None and before not in AGENT_GRADES:
                raise ValueError(f"previous grade {before!r} of agent {result.agent_id} is not one of {AGENT_GRADES}")
            decisions.append(
                GradeDecision(
                    agent_id=result.agent_id,
                    grade=grades[index],
                    previous_grade=before,
                    rank=ranks[index],
                    agents_ranked=len(results),
                    sales_fen=result.sales_fen,
                    deals=result.deals,
                    promoted_from_e=promoted[index],
                    team_id=result.team_id,
                )
            )
    return decisions


def _tie_groups(results: Sequence[WeekResult]) -> tuple[list[list[WeekResult]], list[int]]:
    """Agents with equal (sales, deals), best first, and the rank of each group. Grades are given a whole
    group at a time."""
    ordered = sorted(results, key=lambda r: (-r.sales_fen, -r.deals, r.agent_id))
    groups: list[list[WeekResult]] = []
    for result in ordered:
        if groups and (groups[-1][0].sales_fen, groups[-1][0].deals) == (result.sales_fen, result.deals):
            groups[-1].append(result)
        else:
            groups.append([result])
    ranks: list[int] = []
    position = 0
    for group in groups:
        ranks.append(position + 1)
        position += len(group)
    return groups, ranks


def _grades_of_groups(groups: list[list[WeekResult]], ranks: list[int], policy: GradingPolicy, *, agents: int
                      ) -> tuple[list[str], list[bool]]:
    """The grade of each tie group, and whether it was promoted from E."""
    grades: list[str] = ["E"] * len(groups)
    promoted: list[bool] = [False] * len(groups)

    def has_sales(index: int) -> bool:
        return groups[index][0].sales_fen > 0

    # A: a prefix of the ranking, since both rules are monotone in rank and sales.
    i = 0
    while i < len(groups) and has_sales(i):
        if not policy.a_rule_holds(top=ranks[i] <= policy.a_top_n, sales_fen=groups[i][0].sales_fen):
            break
        grades[i] = "A"
        i += 1

    # B, C, D: each takes its count of agents from where the previous grade stopped.
    for grade, share in (("B", policy.b_share), ("C", policy.c_share), ("D", policy.d_share)):
        quota = _round_half_up(share, agents)
        taken = 0
        while taken < quota and i < len(groups) and has_sales(i):
            grades[i] = grade
            taken += len(groups[i])
            i += 1

    # E is everyone from group i on (agents without sales are all at the end); its best move up to D.
    e_agents = sum(len(group) for group in groups[i:])
    quota = _ceil(policy.e_promote_share, e_agents)
    moved = 0
    while moved < quota and i < len(groups) and has_sales(i):
        grades[i] = "D"
        promoted[i] = True
        moved += len(groups[i])
        i += 1
    return grades, promoted


_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")


def iso_week(day: date) -> str:
    """The ISO week `day` falls in, e.g. "2026-W47" (2027-01-01 is in "2026-W53")."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def week_bounds(week: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """Monday 00:00 of ISO `week` and the next Monday 00:00, both aware in `tz`.

    Raises ValueError on a malformed week or one that does not exist (e.g. "2025-W53")."""
    match = _WEEK.fullmatch(week)
    if match is None:
        raise ValueError(f"not an ISO week like 2026-W47: {week!r}")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        next_monday = monday + timedelta(days=7)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"no such ISO week: {week!r}") from exc
    return datetime.combine(monday, time(0), tzinfo=tz), datetime.combine(next_monday, time(0), tzinfo=tz)


def previous_week(now: datetime) -> str:
    """The last complete ISO week before `now`, by the calendar of now's time zone.

    At Monday 00:00 the week just ended is complete. Raises ValueError for a naive `now`: which
    week has ended depends on where the floor is."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    # Any day seven days back lies in the week before the current (possibly just begun) one.
    return iso_week(now.date() - timedelta(days=7))
