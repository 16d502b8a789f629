"""Every topic declares its retention and whether it carries personal data, and docs/personal-data.md is that
declaration: the table cannot drift from the topics the broker is told to create."""

from __future__ import annotations

from pathlib import Path

from telesales_contracts import retention
from telesales_contracts.topics import ALL_TOPICS, BY_NAME, DEAD_LETTERS, LEADS_DO_NOT_CALL, broker_config

ROOT = Path(__file__).resolve().parents[1]


def test_every_topic_declares_a_retention_and_no_other_is_declared() -> None:
    assert set(retention.RETENTION) == {topic.name for topic in ALL_TOPICS}
    for topic in ALL_TOPICS:
        kept = topic.retention
        assert (kept.days is None) == topic.compacted, topic.name  # only a compacted topic keeps for ever
        assert kept.why.strip(), topic.name
        if kept.days is not None:
            assert 1 <= kept.days <= 30, topic.name
            assert broker_config(topic.name) == {"retention.ms": str(kept.days * 24 * 3600 * 1000)}


def test_topics_with_personal_data_keep_it_no_longer_than_their_purpose() -> None:
    personal = {topic.name for topic in ALL_TOPICS if topic.retention.personal_data}
    assert {name for name in BY_NAME if name.startswith("leads.")} <= personal
    assert DEAD_LETTERS.name in personal
    # dead letters keep whole payloads of leads: longer than the leads' own topics only by the time to replay
    assert BY_NAME[DEAD_LETTERS.name].retention.days == 14
    assert BY_NAME["leads.received.v1"].retention.days <= 7
    assert BY_NAME["leads.rejected.v1"].retention.days <= 3
    # compacted, and a superseded (or tombstoned: a key that named a number) record goes within a day
    assert LEADS_DO_NOT_CALL.retention.days is None and LEADS_DO_NOT_CALL.broker_config == {
        "cleanup.policy": "compact", "max.compaction.lag.ms": str(24 * 3600 * 1000)}


def test_an_undeclared_topic_is_named_when_asked() -> None:
    try:
        retention.retention_of("leads.nothing.v1")
    except KeyError as error:
        assert "leads.nothing.v1" in str(error) and "retention.py" in str(error)
    else:
        raise AssertionError("an undeclared topic must not get a default retention")


def test_the_document_is_the_registry() -> None:
    expected = retention.render([(topic.name, topic.compacted) for topic in ALL_TOPICS])
    document = (ROOT / "docs" / "personal-data.md").read_text(encoding="utf-8")
    assert document == expected, "docs/personal-data.md is stale: run `python -m telesales_contracts.retention`"
    for topic in ALL_TOPICS:
        assert f"| `{topic.name}` |" in document
    assert "for ever" in document and "honour" in document
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/personal-data.md" in readme.split("## Personal data", 1)[1].split("\n## ", 1)[0]
