"""How long each topic keeps its events, whether they carry personal data, and why (every topic declares one).

Personal data here: a person's phone number, name or email, free text written by or about a customer or an
employee (notes, reasons, complaint wording, consent statements), or whole payloads that may hold them (dead
letters, the fields outside systems add beyond a contract). Events naming people only by the platform's ids
(lead, agent, user) are not counted: the ids mean nothing without the services' databases, which the erasure
and the services' own retention govern.

A topic carrying personal data keeps it only as long as its purpose needs (PIPL art. 19: the shortest period
necessary): the consumers store what they need on arrival, so the topic's retention is the window to replay
after an outage. The compacted do-not-call topic is the exception: it keeps each tenant's last word on each
listed number for ever, because the list must be kept to honour the objections (see LEADS_DO_NOT_CALL).

An erasure request also removes the person from every non-compacted topic marked personal_data here (dead
letters included): lead-intake truncates each partition holding them up to their last record, once every
consumer group reading it has committed past it, copying the other dead letters of the range forward first
(services/lead-intake/lead_intake/topic_erasure.py). The cost: the earlier records of that partition, all
processed, go with it, so they can no longer be replayed from the topic.

docs/personal-data.md is this table as a document (`python -m telesales_contracts.retention` writes it; a test
checks it is current). The retention is applied where topics are created: the services and the local stack
(Topic.broker_config) and the Kubernetes KafkaTopics (deploy/k8s/render.py)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

DAY_MS = 24 * 3600 * 1000
DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "personal-data.md"


@dataclass(frozen=True)
class Retention:
    days: int | None  # None: a compacted topic (the last event of each key stays)
    personal_data: bool
    why: str

    @property
    def ms(self) -> int | None:
        return None if self.days is None else self.days * DAY_MS


_REPLAY = "the consumers store what they need on arrival; a week covers replaying after an outage"
_IDS = "names leads, agents or users by the platform's ids only"

RETENTION: dict[str, Retention] = {
    "leads.received.v1": Retention(7, True, f"Raw leads: names, numbers, emails, notes. lead-intake qualifies them "
                                            f"within seconds; {_REPLAY} of lead-intake."),
    "leads.qualified.v1": Retention(7, True, f"The cleaned lead with its contact and consent; {_REPLAY} of the "
                                             f"allocator or metrics."),
    "leads.merged.v1": Retention(7, True, f"A repeat arrival's touch and the fields its source added beyond the "
                                          f"contract (which may name the person); {_REPLAY}."),
    "leads.rejected.v1": Retention(3, True, "Junk leads with the raw number and email, stored nowhere else: kept "
                                            "only the few days a source needs to read why and fix its data."),
    "leads.outcome.v1": Retention(30, True, "Won/lost with outside references and fields CRMs add; lead-intake "
                                            "learns from it at once, a month lets the scoring model be rebuilt."),
    "leads.stage-changed.v1": Retention(7, True, f"An agent's or CRM's note about the customer; {_REPLAY}."),
    "leads.complaint.v1": Retention(30, True, "The customer's number and complaint: acted on at once (the number "
                                              "is listed), kept a month for the follow-up and a regulator's "
                                              "question."),
    "leads.do-not-call.v1": Retention(None, True, "Compacted: the last word on every listed number stays for ever, "
                                                  "by design. The list must be kept to honour each objection (a "
                                                  "number taken off is kept as taken off), also after its person "
                                                  "was erased; so it never carries the number: key and event name "
                                                  "it by its keyed blind index and show it masked (+86139****5678), "
                                                  "with the reason (numbers in it masked) and when."),
    "leads.signal.v1": Retention(7, True, f"A customer-side moment, by lead or phone number, with its detail; "
                                          f"{_REPLAY}."),
    "leads.consent-changed.v1": Retention(7, True, f"A lead's consent statements after a change; lead-intake keeps "
                                                   f"them on the lead as the proof; {_REPLAY} of the allocator."),
    "calls.logged.v1": Retention(7, False, f"Calls by lead and agent; {_IDS}."),
    "agents.changed.v1": Retention(7, True, "Employees' names and roles from the HR system; the allocator keeps "
                                            "its roster; a week covers replaying."),
    "agents.status-changed.v1": Retention(7, False, f"Log-ins and breaks; {_IDS}."),
    "agents.graded.v1": Retention(7, False, f"Weekly grades; {_IDS}."),
    "allocation.assigned.v1": Retention(7, False, f"Who holds which lead; {_IDS}."),
    "allocation.claimed.v1": Retention(7, False, f"Who holds which lead; {_IDS}."),
    "allocation.returned.v1": Retention(7, True, f"An agent's free-text reason (may describe the customer); "
                                                 f"{_REPLAY}."),
    "allocation.reclaimed.v1": Retention(7, False, f"Reclaims; {_IDS}."),
    "allocation.closed.v1": Retention(7, True, f"A close's reason, which can quote a complaint; {_REPLAY}."),
    "allocation.won.v1": Retention(7, False, f"Wins; {_IDS}."),
    "allocation.reclaim-warning.v1": Retention(7, False, f"Warnings; {_IDS}."),
    "allocation.hot-lead.v1": Retention(7, True, f"The signal's detail from the customer's side; {_REPLAY}."),
    "allocation.deal-mark-requested.v1": Retention(7, True, f"An agent's free-text note for the supervisor (it "
                                                            f"names the customer); {_REPLAY}."),
    "allocation.deal-mark-decided.v1": Retention(7, True, f"A supervisor's free-text reason; {_REPLAY}."),
    "allocation.win-confirmed.v1": Retention(7, False, f"Confirmations with order references; {_IDS}."),
    "allocation.win-rejected.v1": Retention(7, True, f"A free-text reason; {_REPLAY}."),
    "platform.dead-lettered.v1": Retention(14, True, "Whole payloads a consumer refused (any topic's, leads "
                                                     "included): two weeks for an operator to fix and replay, "
                                                     "twice the leads' own topics, no longer."),
    "privacy.erasure-requested.v1": Retention(30, False, f"Erasure and retention requests, lead ids only (never the "
                                                       f"values erased); {_IDS}. A month, so a service down for "
                                                       f"weeks still erases when it comes back."),
    "privacy.erasure-completed.v1": Retention(30, False, f"Each service's answer to an erasure request, with counts; "
                                                       f"{_IDS}."),
    "security.unmask-budget-exceeded.v1": Retention(30, False, f"Security alerts for a month of investigation; "
                                                               f"{_IDS}."),
}
# Money: every coin's movement stays replayable for a month. The marketplace's events: a week.
for _name in ("transfer-requested", "transfer-posted", "transfer-rejected", "coins-allocated", "coins-reclaimed",
              "coins-redeemed", "bonus-awarded", "transfer-recorded", "reallocation-decided", "reallocation-awaiting"):
    RETENTION[f"ledger.{_name}.v1"] = Retention(30, False, f"Money movements, replayable for a month; {_IDS}.")
for _name in ("tip-submitted", "tip-reviewed", "tip-listed", "tip-delisted", "purchase-requested",
              "purchase-completed", "purchase-refused", "tip-visited", "learn-progressed", "tip-rated",
              "tip-forwarded", "daily-active", "deep-learner-flagged", "struggle-recommended"):
    RETENTION[f"marketplace.{_name}.v1"] = Retention(7, False, f"Tips and their use; {_IDS}.")


def retention_of(topic: str) -> Retention:
    try:
        return RETENTION[topic]
    except KeyError:
        raise KeyError(f"topic {topic} declares no retention: add it to telesales_contracts/retention.py "
                       f"(and run `python -m telesales_contracts.retention`)") from None


def _kept(retention: Retention) -> str:
    return "for ever (compacted: last event per key)" if retention.days is None else f"{retention.days} days"


def render(topics: list[tuple[str, bool]]) -> str:
    """The document: one row per (topic name, compacted) of the registry."""
    rows = [f"| `{name}` | {'yes' if retention_of(name).personal_data else 'no'} | {_kept(retention_of(name))} | "
            f"{retention_of(name).why} |" for name, _compacted in topics]
    return "\n".join([
        "# Personal data on the topics",
        "",
        "<!-- Generated from contracts/telesales_contracts/retention.py by `python -m telesales_contracts.retention`;",
        "     tests/test_personal_data_doc.py fails when it is stale. Do not edit by hand. -->",
        "",
        "Every Kafka topic of the platform, whether its events carry personal data, how long the broker keeps them",
        "(`retention.ms`, set where topics are created: the services and the local stack from the contracts, the",
        "Kubernetes `KafkaTopic`s from `deploy/k8s/render.py`) and why that long. A topic is given its retention",
        "when it is created; on Kubernetes the topic operator also applies a changed `KafkaTopic` to the topic, while",
        "a topic that already existed on a local broker keeps its own until altered (`kafka-configs.sh --alter",
        "--entity-type topics --entity-name <topic> --add-config retention.ms=<ms>`).",
        "",
        "Personal data: a person's phone number, name or email, free text written by or about a customer or an",
        "employee, or whole payloads that may hold them. Events that name people only by the platform's ids",
        "(lead, agent, user) are not counted: the ids mean nothing without the services' databases.",
        "",
        "**The do-not-call topic keeps the list for ever, by design, and no number on it.** `leads.do-not-call.v1`",
        "is compacted: the broker keeps the last event of every key (tenant/the number's blind index), so the whole",
        "list can be read back from the topic however old it is. An objection must be honoured for as long as the",
        "platform may call anyone, also after the person was erased, so the listing is kept rather than forgotten:",
        "forgetting it would let the next purchased list put the person back in the pools. The number itself is",
        "not on the topic: the key and the event name it by its keyed blind index (what every service matches its",
        "own sealed copies by) and show it masked, with the reason (numbers in it masked) and when. Records an",
        "older version keyed by the number are replaced by `python -m lead_intake.dnc_migration` (tombstones); a",
        "record superseded or tombstoned is compacted away within a day (`max.compaction.lag.ms`).",
        "",
        "**An erasure removes the person from the topics too.** Once a person is erased on request (`POST",
        "/v1/erasures` on lead-intake), every topic marked *yes* below except the compacted do-not-call topic is",
        "read whole, and each partition holding a record that names the person (by number in any writing, name or",
        "email, in the key, the value, a header or a dead letter's payload) is truncated up to and including that",
        "record (Kafka's DeleteRecords), within seconds of the last consumer group reading that partition committing",
        "past it: a service that is down or behind keeps its unprocessed events, and the request stays pending (the",
        "ErasureIncomplete alert) until it catches up. Before the dead-letter topic is truncated, the other dead",
        "letters of the range are copied forward, so none is lost. The cost: the earlier records of a truncated",
        "partition, which every consumer had already processed, are removed with it; those events can no longer be",
        "replayed from the topic. Erasures by a tenant's retention get no such step: the topics' own retention",
        "(below) bounds how long a closed lead's events stay on them.",
        "",
        "| Topic | Personal data | Retention | Why |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
    ])


def main(argv: list[str]) -> int:
    from .topics import ALL_TOPICS

    text = render([(topic.name, topic.compacted) for topic in ALL_TOPICS])
    if "--check" in argv:
        if not DOC_PATH.exists() or DOC_PATH.read_text(encoding="utf-8") != text:
            print(f"{DOC_PATH} is stale: run `python -m telesales_contracts.retention`", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
