"""Technical metrics every service exposes on /metrics (Prometheus naming: base units, _total)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "telesales_messages_consumed_total",
    "Messages taken from Kafka, by what became of them (processed, duplicate, dead_lettered).",
    ["service", "topic", "outcome"],
)
HANDLER_DURATION = Histogram(
    "telesales_handler_duration_seconds",
    "Time one handler call takes (one call handles a batch on batch subscribers).",
    ["service", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HANDLER_ERRORS = Counter(
    "telesales_handler_errors_total",
    "Handler calls that failed and were left for redelivery (infrastructure errors).",
    ["service", "topic"],
)
DEAD_LETTERS = Counter(
    "telesales_dead_letters_total",
    "Messages sent to the dead-letter topic, by reason.",
    ["service", "topic", "error_type"],
)
DEAD_LETTER_LOOPS = Counter(
    "telesales_dead_letter_loops_dropped_total",
    "Dead letters a consumer of the dead-letter topic could not process: logged and dropped instead of "
    "dead-lettered again (the original dead letter stays on the topic).",
    ["service", "error_type"],
)
OUTBOX_PUBLISHED = Counter(
    "telesales_outbox_published_total",
    "Events relayed from the MongoDB outbox to Kafka.",
    ["service", "topic"],
)
OUTBOX_BACKLOG = Gauge(
    "telesales_outbox_backlog",
    "Events written to an outbox and not yet relayed (rows of an outbox collection, documents with embedded "
    "events), at the relay's last pass; only the relaying replica has it.",
    ["service", "outbox"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "telesales_outbox_oldest_unrelayed_age_seconds",
    "Age of the oldest event waiting in an outbox at the relay's last pass (0: none waits); measured before "
    "publishing, so it grows while the broker refuses them. Only the relaying replica has it.",
    ["service", "outbox"],
)
OUTBOX_RELAY_ERRORS = Counter(
    "telesales_outbox_relay_errors_total",
    "Relay attempts that failed (broker or database unreachable); rows stay and are retried.",
    ["service"],
)
# Here, not in pii_rotation.py, so that every service exposes the family (the alert PiiRotationStuck reads it).
PII_STALE_DOCUMENTS = Gauge(
    "telesales_pii_stale_documents",
    "Documents holding personal data not sealed with their tenant's active key (an older key, or plaintext "
    "written before encryption), at the rotation job's last round; only the lease holder has it. At 0 an old "
    "key id can be removed from the keyring.",
    ["service", "collection"],
)
CONSUMER_LAG = Gauge(
    "telesales_consumer_lag_messages",
    "Messages of a partition not yet consumed (its high watermark minus the next offset to read), as of the "
    "consumer's last batch from it.",
    ["service", "topic", "partition"],
)
UNMASK_REFUSED = Counter(
    "telesales_unmask_refused_total",
    "Answers masked for a caller who may see numbers in full: past its hourly budget (unmask_budget_exceeded), "
    "or the budget could not be checked (unmask_budget_unavailable).",
    ["service", "reason"],
)
UNMASK_BUDGET_CROSSED = Counter(
    "telesales_unmask_budget_exceeded_total",
    "Users who went past their hourly budget of full phone numbers (once per user and hour).",
    ["service"],
)
