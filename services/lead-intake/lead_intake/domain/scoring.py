"""Scoring: rule points per feature, blended with a naive-Bayes model learned from outcomes (pure functions,
no I/O)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from telesales_contracts.leads import Channel, ModelContribution, NumberType

from .cleaning import CleanLead

# --------------------------------------------------------------------------------------------------
# Score


class BehaviourWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_per_repeat_login: float = Field(default=3, ge=0, le=100)
    repeat_logins_cap: float = Field(default=12, ge=0, le=100)
    long_page_view_seconds: int = Field(default=120, ge=1)
    long_page_view: float = Field(default=8, ge=0, le=100)
    unpaid_order: float = Field(default=15, ge=0, le=100)


class GradeThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    A: int = Field(default=70, ge=0, le=100)
    B: int = Field(default=50, ge=0, le=100)
    C: int = Field(default=30, ge=0, le=100)

    @model_validator(mode="after")
    def _descending(self) -> GradeThresholds:
        if not self.A >= self.B >= self.C:
            raise ValueError("grade thresholds must satisfy A >= B >= C")
        return self

    def grade(self, score: int) -> Literal["A", "B", "C", "D"]:
        if score >= self.A:
            return "A"
        if score >= self.B:
            return "B"
        if score >= self.C:
            return "C"
        return "D"


class ScoringWeights(BaseModel):
    """Points per feature of the rule score; configurable per tenant through the API."""

    model_config = ConfigDict(extra="forbid")

    channel: dict[Channel, float] = Field(default_factory=lambda: {
        Channel.INBOUND_CALL: 30, Channel.APP_EVENT: 22, Channel.SEARCH_ADS_SEO: 20, Channel.B2B_SITE: 16,
        Channel.VERTICAL_SITE: 16, Channel.IM: 14, Channel.SOCIAL_MEDIA: 12, Channel.OFFLINE_MEDIA: 10,
        Channel.FORUM: 8, Channel.DIRECTORY_CRAWL: 4, Channel.UNKNOWN: 5,
    })
    completeness: dict[Literal["name", "email", "company", "product_interest", "region"], float] = Field(
        default_factory=lambda: {"name": 6, "email": 4, "company": 6, "product_interest": 6, "region": 3}
    )
    number_type: dict[NumberType, float] = Field(default_factory=lambda: {
        NumberType.MOBILE: 15, NumberType.FIXED_LINE_OR_MOBILE: 12, NumberType.FIXED_LINE: 10,
        NumberType.VOIP: 2, NumberType.OTHER: 2, NumberType.TOLL_FREE: 0, NumberType.UNKNOWN: 0,
    })
    behaviour: BehaviourWeights = Field(default_factory=BehaviourWeights)
    grades: GradeThresholds = Field(default_factory=GradeThresholds)
    model_blend_weight: float = Field(default=0.5, ge=0, le=1,
                                      description="Share of the learned model in the final score once it is trusted.")
    model_min_outcomes: int = Field(default=30, ge=2, description="Outcomes needed before the model blends in.")
    model_min_per_class: int = Field(default=5, ge=1, description="Won and lost outcomes each needed.")

    def model_trusted(self, won: int, lost: int) -> bool:
        """Enough outcomes of both kinds for the learned model to blend in."""
        return (self.model_blend_weight > 0 and won + lost >= self.model_min_outcomes
                and min(won, lost) >= self.model_min_per_class)

    @model_validator(mode="after")
    def _all_points_bounded(self) -> ScoringWeights:
        for table in (self.channel, self.completeness, self.number_type):
            for key, points in table.items():
                if not 0 <= points <= 100:
                    raise ValueError(f"points for {key} must be between 0 and 100")
        return self


# One feature's points, in the wire form of leads.qualified.v1's `score_breakdown` items
# (ScoreContribution): plain dicts, because every lead builds eleven of them.
Contribution = dict[str, Any]


def _contribution(*, feature: str, value: str, points: float) -> Contribution:
    return {"feature": feature, "value": value, "points": float(points)}


def rule_contributions(lead: CleanLead, weights: ScoringWeights) -> list[Contribution]:
    """Each feature's points, in a fixed order; features worth nothing are listed too (they explain)."""
    out = [_contribution(feature="channel", value=lead.channel.value,
                             points=weights.channel.get(lead.channel, 0.0))]
    present = {
        "name": lead.name is not None,
        "email": lead.dedup_email is not None,
        "company": lead.company is not None,
        "product_interest": lead.product_interest is not None,
        "region": lead.region is not None,
    }
    for name, points in weights.completeness.items():
        out.append(_contribution(feature=f"completeness.{name}", value="present" if present[name] else "missing",
                                     points=points if present[name] else 0.0))
    number_type = lead.phone.number_type if lead.phone is not None else None
    out.append(_contribution(feature="number_type", value=number_type.value if number_type else "none",
                                 points=weights.number_type.get(number_type, 0.0) if number_type else 0.0))
    b, bw = lead.behaviour, weights.behaviour
    repeats = max(0, b.logins_7d - 1)
    out.append(_contribution(feature="behaviour.repeat_logins", value=str(b.logins_7d),
                                 points=min(bw.repeat_logins_cap, repeats * bw.points_per_repeat_login)))
    long_view = b.page_view_seconds >= bw.long_page_view_seconds
    out.append(_contribution(feature="behaviour.long_page_view", value=f"{b.page_view_seconds}s",
                                 points=bw.long_page_view if long_view else 0.0))
    out.append(_contribution(feature="behaviour.unpaid_order", value="yes" if b.unpaid_order else "no",
                                 points=bw.unpaid_order if b.unpaid_order else 0.0))
    return out


# The model sees coarse, categorical features: few values each, so few outcomes already say something.
MODEL_FEATURE_VALUES: dict[str, tuple[str, ...]] = {
    "channel": tuple(c.value for c in Channel),
    "number_type": (*(t.value for t in NumberType), "none"),
    "completeness": ("0-1", "2-3", "4-5"),
    "logins": ("0-1", "2-4", "5+"),
    "page_view": ("<30s", "30-119s", "120s+"),
    "unpaid_order": ("yes", "no"),
}


def model_features(lead: CleanLead) -> dict[str, str]:
    filled = sum(x is not None for x in (lead.name, lead.dedup_email, lead.company, lead.product_interest, lead.region))
    b = lead.behaviour
    return {
        "channel": lead.channel.value,
        "number_type": lead.phone.number_type.value if lead.phone is not None else "none",
        "completeness": "0-1" if filled <= 1 else "2-3" if filled <= 3 else "4-5",
        "logins": "0-1" if b.logins_7d <= 1 else "2-4" if b.logins_7d <= 4 else "5+",
        "page_view": "<30s" if b.page_view_seconds < 30 else "30-119s" if b.page_view_seconds < 120 else "120s+",
        "unpaid_order": "yes" if b.unpaid_order else "no",
    }


@dataclass
class OutcomeCounts:
    """Won/lost counts per business line, in total and per feature value: the naive-Bayes model."""

    won: int = 0
    lost: int = 0
    features: dict[str, dict[str, int]] = field(default_factory=dict)  # "channel:im" -> {"won": n, "lost": n}

    @property
    def total(self) -> int:
        return self.won + self.lost

    @staticmethod
    def increments(features: Mapping[str, str], outcome: Literal["won", "lost"]) -> dict[str, int]:
        """The $inc a stored model document takes for one outcome."""
        inc = {outcome: 1}
        for name, value in features.items():
            inc[f"features.{name}:{value}.{outcome}"] = 1
        return inc

    def add(self, features: Mapping[str, str], outcome: Literal["won", "lost"]) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        for name, value in features.items():
            cell = self.features.setdefault(f"{name}:{value}", {})
            cell[outcome] = cell.get(outcome, 0) + 1


def predict_won(counts: OutcomeCounts, features: Mapping[str, str], alpha: float = 1.0) -> tuple[float, dict[str, float]]:
    """P(won | features) by naive Bayes with Laplace smoothing, and each feature's log-odds share."""
    prior = math.log((counts.won + alpha) / (counts.lost + alpha))
    log_odds: dict[str, float] = {}
    for name, value in features.items():
        k = len(MODEL_FEATURE_VALUES.get(name, ())) or 2
        cell = counts.features.get(f"{name}:{value}", {})
        p_won = (cell.get("won", 0) + alpha) / (counts.won + alpha * k)
        p_lost = (cell.get("lost", 0) + alpha) / (counts.lost + alpha * k)
        log_odds[name] = round(math.log(p_won / p_lost), 4)
    total = prior + sum(log_odds.values())
    probability = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, total))))
    return probability, log_odds


@dataclass(slots=True)
class Score:
    score: int
    grade: Literal["A", "B", "C", "D"]
    rule_score: int
    breakdown: list[Contribution]
    model: ModelContribution | None
    features: dict[str, str]


def score_lead(lead: CleanLead, weights: ScoringWeights, counts: OutcomeCounts | None = None) -> Score:
    """Rule score, blended with the learned model once enough outcomes of both kinds exist."""
    breakdown = rule_contributions(lead, weights)
    rule = max(0, min(100, round(sum(c["points"] for c in breakdown))))
    features = model_features(lead)
    model: ModelContribution | None = None
    final = rule
    if counts is not None and weights.model_trusted(counts.won, counts.lost):
        probability, log_odds = predict_won(counts, features)
        w = weights.model_blend_weight
        final = max(0, min(100, round((1 - w) * rule + w * 100 * probability)))
        model = ModelContribution(probability_won=round(probability, 4), blend_weight=w,
                                  outcomes_used=counts.total, feature_log_odds=log_odds)
    return Score(score=final, grade=weights.grades.grade(final), rule_score=rule, breakdown=breakdown,
                 model=model, features=features)
