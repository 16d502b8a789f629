"""Properties of the marketplace's rules over random inputs: whatever part of a text is searched is found,
byte ranges stay inside the body, and learning reports in any order and repetition count watch time as
each session's largest report."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace import domain
from marketplace.domain import Learning, LearnReport, RangeNotSatisfiable

CHINESE = st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80)
TEXT = st.text(alphabet=st.one_of(CHINESE, st.sampled_from("abcXYZ019 ，。!?")), max_size=60)


@settings(max_examples=200, deadline=None)
@given(TEXT, st.data())
def test_any_piece_of_a_text_finds_it(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    piece = text[start:data.draw(st.integers(start, len(text)))]
    wanted = domain.query_tokens(piece)
    indexed = set(domain.search_tokens(text))
    # ASCII words cut in the middle are other words; whole Chinese pieces always match
    chinese = [t for t in wanted if not t.isascii()]
    assert set(chinese) <= indexed


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10_000), st.one_of(st.none(), st.integers(0, 12_000)), st.one_of(st.none(), st.integers(0, 12_000)),
       st.integers(1, 10_000))
def test_byte_ranges_stay_inside_the_body(first: int, last: int | None, suffix: int | None, size: int) -> None:
    for header in (f"bytes={first}-{'' if last is None else last}", f"bytes=-{suffix if suffix is not None else 1}"):
        try:
            answer = domain.byte_range(header, size)
        except RangeNotSatisfiable:
            continue
        assert answer is not None
        lo, hi = answer
        assert 0 <= lo <= hi <= size - 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.integers(0, 100), st.integers(0, 600)),
                max_size=30))
def test_watch_time_is_the_sum_of_each_sessions_largest_report(reports: list[tuple[str, int, int]]) -> None:
    learning = Learning(0, 0, False, 0, None, {})
    rewatches = 0
    for session, progress, seconds in reports:
        learning, rewatch = domain.learn(learning, LearnReport(session, progress, seconds), 90)
        rewatches += rewatch
    largest: dict[str, int] = {}
    for session, _, seconds in reports:
        largest[session] = max(largest.get(session, 0), seconds)
    assert learning.watched_seconds == sum(largest.values())
    assert learning.progress_percent == max((p for _, p, _ in reports), default=0)
    assert learning.rewatches == rewatches <= 2  # at most one per session after the first
