"""The intake's business, pure (no I/O): cleaning and scoring of arrivals, and the intake's Lead.

The pipeline follows the practice the product automates (seed 003): standardize, enrich, drop junk,
de-duplicate, test numbers, score. Finding which stored leads an arrival may meet needs the database (the
service asks the store); everything else is decided here:

- cleaning.py: standardize and enrich (phone, email, names, channel), junk reasons, the offline number test;
- scoring.py: rule points, the naive-Bayes model learned from outcomes, the score and grade;
- touches.py: each arrival's touch (source, producing system, its own id of the lead, the type as spelled,
  the fields beyond the contract) and the outside references of a lead;
- consent.py: the lead's consent (the latest statement per scope) and who may enter the pools without it;
- lead.py: the intake's Lead (IntakeLead): what can happen to a lead (rejected as junk, qualified as new,
  merged into a known one, the same outside record again, an outcome, a complaint), each a Decision;
- changes.py: those decisions' typed changes, and the Batch one transaction writes.
"""

from __future__ import annotations

from .changes import (
    Announcement,
    Answer,
    AppendTouch,
    Batch,
    Change,
    Decision,
    Listing,
    NewLead,
    PutOnDoNotCall,
    RecordOutcome,
    ReplaceTouch,
)
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
from .consent import ConsentPolicy, Statement, admission
from .consent import merge as merge_consent
from .consent import statement as consent_statement
from .lead import Arrival, IntakeLead, complaint, do_not_call_changed, do_not_call_key, reject
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
    "Announcement", "Answer", "AppendTouch", "Arrival", "Batch", "Change", "Decision", "IntakeLead", "Listing", "NewLead",
    "PutOnDoNotCall", "RecordOutcome", "ReplaceTouch", "complaint", "do_not_call_changed", "do_not_call_key", "reject",
    "ConsentPolicy", "Statement", "admission", "consent_statement", "merge_consent",
    "DEFAULT_TEST_NUMBERS", "MODEL_FEATURE_VALUES", "BehaviourWeights", "CleanLead", "Contribution", "GradeThresholds",
    "NumberCheckResult", "OutcomeCounts", "PhoneInfo", "Ref", "Score", "ScoringWeights", "fold_text",
    "is_test_number", "junk_reasons", "lead_extra", "map_channel", "model_features", "normalize_email",
    "offline_number_check", "predict_won", "producing_system", "ref_of", "rule_contributions", "score_lead",
    "ref_key", "standardize", "standardize_phone", "touch", "touch_doc", "with_ref",
]
