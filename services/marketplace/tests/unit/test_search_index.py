"""The in-memory search index: ranking by matched tokens then tip id, filters, keyset pages, listings
replaced and removed, compaction; and against a brute-force scan of random corpora."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace import domain
from marketplace.search_index import SearchIndex


def tip(tip_id: str, text: str, *, tenant: str = "t", status: str = "listed", version: int = 1,
        stage: str = "opening", product_line: str = "car", tags: tuple[str, ...] = (), author: str = "a") -> dict[str, Any]:
    return {"tenant_id": tenant, "tip_id": tip_id, "status": status, "listed_version": version, "stage": stage,
            "product_line": product_line, "tags": list(tags), "author_id": author,
            "search_terms": domain.search_tokens(text, *tags)}


def search(index: SearchIndex, q: str, tenant: str = "t", **filters: Any) -> list[tuple[str, int]]:
    return [(h.tip_id, h.score) for h in index.search(tenant, domain.query_tokens(q), filters, limit=50)]


def test_ranked_by_tokens_matched_then_tip_id_descending() -> None:
    index = SearchIndex()
    index.put(tip("a", "客户嫌贵怎么办"))
    index.put(tip("b", "客户问价格"))
    index.put(tip("c", "客户嫌麻烦"))
    index.put(tip("d", "开场白"))
    assert search(index, "客户嫌贵") == [("a", 3), ("c", 2), ("b", 1)]
    assert search(index, "开场") == [("d", 1)]
    assert search(index, "没有的词") == []


def test_filters_must_all_hold() -> None:
    index = SearchIndex()
    index.put(tip("a", "报价", stage="quoting", tags=("续保", "vip")))
    index.put(tip("b", "报价", stage="quoting", tags=("续保",), author="w"))
    index.put(tip("c", "报价", stage="closing", product_line="health", tags=("vip",)))
    assert search(index, "报价", stage="quoting") == [("b", 1), ("a", 1)]
    assert search(index, "报价", tags=["续保", "vip"]) == [("a", 1)]
    assert search(index, "报价", product_line="health") == [("c", 1)]
    assert search(index, "报价", author_id="w") == [("b", 1)]
    assert search(index, "报价", stage="service_introduction") == []


def test_tenants_are_apart() -> None:
    index = SearchIndex()
    index.put(tip("a", "报价", tenant="one"))
    index.put(tip("a", "报价", tenant="two"))
    index.remove("two", "a")
    assert search(index, "报价", tenant="one") == [("a", 1)]
    assert search(index, "报价", tenant="two") == []
    assert search(index, "报价", tenant="three") == []


def test_a_new_version_replaces_the_listing_and_delisting_removes_it() -> None:
    index = SearchIndex()
    index.put(tip("a", "报价技巧"))
    index.put(tip("a", "报价技巧"))  # the same listing seen twice (local refresh and change stream)
    assert len(index) == 1
    index.put(tip("a", "开场白", version=2))
    assert search(index, "报价") == [] and search(index, "开场白") == [("a", 2)]
    index.put(tip("a", "开场白", version=2, status="delisted"))
    assert search(index, "开场白") == [] and len(index) == 0


def test_keyset_pages_cover_every_match_once_also_across_compaction() -> None:
    index = SearchIndex()
    for n in range(3000):
        index.put(tip(f"t{n:04d}", "客户报价" if n % 3 else "客户"))
    for n in range(0, 3000, 2):  # half delisted: enough dead positions to compact
        index.remove("t", f"t{n:04d}")
    tokens = domain.query_tokens("客户报价")
    seen: list[str] = []
    after = None
    for _ in range(100):  # bounded: a cursor that does not advance fails instead of looping
        page = index.search("t", tokens, {}, after=after, limit=100)
        if not page:
            break
        seen += [h.tip_id for h in page]
        after = (page[-1].score, page[-1].tip_id)
        index.put(tip("t9999", "客户报价"))  # listed while paging: ids above the cursor's stay behind it
    listed = [f"t{n:04d}" for n in range(1, 3000, 2)]
    best = sorted((t for t in listed if int(t[1:]) % 3), reverse=True)
    rest = sorted((t for t in listed if int(t[1:]) % 3 == 0), reverse=True)
    assert seen[:len(best) + 1] == ["t9999", *best] or seen == [*best, *rest]
    assert sorted(set(seen) - {"t9999"}) == sorted(listed) and len(seen) == len(set(seen))


words = st.sampled_from(["客户", "报价", "开场白", "异议", "太贵", "促成", "vip", "售后", "效果"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(words, min_size=1, max_size=4), st.sampled_from(["opening", "closing"]),
                          st.booleans()), min_size=1, max_size=40),
       st.lists(words, min_size=1, max_size=3), st.one_of(st.none(), st.sampled_from(["opening", "closing"])),
       st.integers(min_value=1, max_value=7))
def test_pages_equal_a_brute_force_ranking(corpus: list[tuple[list[str], str, bool]], query: list[str],
                                           stage: str | None, limit: int) -> None:
    index = SearchIndex()
    docs = []
    for n, (text, tip_stage, listed) in enumerate(corpus):
        doc = tip(f"id{n:03d}", "，".join(text), stage=tip_stage, status="listed" if listed else "draft")
        index.put(doc)
        docs.append(doc)
    tokens = domain.query_tokens(" ".join(query))
    want = sorted(((d["tip_id"], len(set(tokens) & set(d["search_terms"]))) for d in docs
                   if d["status"] == "listed" and (stage is None or d["stage"] == stage)),
                  key=lambda pair: (pair[1], pair[0]), reverse=True)
    want = [pair for pair in want if pair[1] > 0]
    got: list[tuple[str, int]] = []
    after = None
    for _ in range(len(corpus) + 2):  # bounded: a cursor that does not advance fails instead of looping
        page = index.search("t", tokens, {"stage": stage}, after=after, limit=limit)
        if not page:
            break
        got += [(h.tip_id, h.score) for h in page]
        after = (page[-1].score, page[-1].tip_id)
    assert got == want
