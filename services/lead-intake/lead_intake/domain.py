"""Lead cleaning and scoring: pure functions, no I/O.

The pipeline follows the practice the product automates (seed 003): standardize, enrich, drop junk,
de-duplicate, test numbers, score. De-duplication needs the database and lives in the service layer;
everything that can be decided from the lead alone is here, in three modules:

- cleaning.py: standardize and enrich (phone, email, names, channel), junk reasons, the offline number test;
- scoring.py: rule points, the naive-Bayes model learned from outcomes, the score and grade;
- touches.py: each arrival's touch (source, producing system, its own id of the lead, the type as spelled,
  the fields beyond the contract) and the outside references of a lead.
"""

from __future__ import annotations

from .cleaning import (
    DEFAULT_TEST_NUMBERS,
    CleanLead,
    NumberCheckResult,
    PhoneInfo,
    fold_text,
    is_test_number,
    junk_reasons,
    map_channel,
    normalize_email,
    offline_number_check,
    standardize,
    standardize_phone,
)
from .scoring import (
    MODEL_FEATURE_VALUES,
    BehaviourWeights,
    Contribution,
    GradeThresholds,
    OutcomeCounts,
    Score,
    ScoringWeights,
    model_features,
    predict_won,
    rule_contributions,
    score_lead,
)
from .touches import Ref, lead_extra, producing_system, ref_key, ref_of, touch, touch_doc, with_ref

__all__ = [
    "DEFAULT_TEST_NUMBERS", "MODEL_FEATURE_VALUES", "BehaviourWeights", "CleanLead", "Contribution", "GradeThresholds",
    "NumberCheckResult", "OutcomeCounts", "PhoneInfo", "Ref", "Score", "ScoringWeights", "fold_text",
    "is_test_number", "junk_reasons", "lead_extra", "map_channel", "model_features", "normalize_email",
    "offline_number_check", "predict_won", "producing_system", "ref_of", "rule_contributions", "score_lead",
    "ref_key", "standardize", "standardize_phone", "touch", "touch_doc", "with_ref",
]
