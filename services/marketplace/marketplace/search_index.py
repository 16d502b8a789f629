"""Full-text search over listed tips, in memory (pure: no I/O).

MongoDB can find the tips that share a token with a query, but it cannot rank them without reading every
one: a common bigram (客户) is in most tips, so a query scored each of thousands of documents. Here each
token keeps the positions of the tips that have it (an inverted index); a query's scores are one
`bincount` over the postings of its tokens, its filters (stage, product line, tags, author) postings of
their own, and its page the best (score, tip id) keys after the cursor. The index is fed with the listed
tips and their changes (see service.SearchIndexFeed); the page's documents are then read from MongoDB.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# Filters become tokens of their own, kept apart from the text's by a prefix no text token has
# (text tokens are letters, digits and Chinese characters).
_FILTER = "\x00"


def filter_tokens(filters: Mapping[str, Any]) -> list[str]:
    """The tokens a tip must have to pass `filters` (stage, product_line, author_id: one value; tags: all)."""
    tokens = [f"{_FILTER}{name}={filters[name]}" for name in ("stage", "product_line", "author_id")
              if filters.get(name) is not None]
    tokens += [f"{_FILTER}tag={tag}" for tag in filters.get("tags") or ()]
    return tokens


def _doc_filter_tokens(doc: Mapping[str, Any]) -> list[str]:
    return filter_tokens({"stage": doc.get("stage"), "product_line": doc.get("product_line"),
                          "author_id": doc.get("author_id"), "tags": doc.get("tags") or ()})


@dataclass(frozen=True)
class Hit:
    tip_id: str
    score: int


class _TenantIndex:
    """One tenant's listed tips. A tip listed again (a new version) gets a new position; its old one is
    dead until the positions are compacted."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.versions: list[int | None] = []
        self.position: dict[str, int] = {}
        self.live = np.zeros(1024, dtype=bool)
        self.postings: dict[str, array] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self._ranks: np.ndarray | None = None  # each position's rank when the ids are sorted
        self._sorted_ids: list[str] = []
        self.dead = 0

    def __len__(self) -> int:
        return len(self.position)

    def put(self, tip_id: str, version: int | None, tokens: Iterable[str]) -> None:
        old = self.position.get(tip_id)
        if old is not None:
            if self.versions[old] == version:
                return  # the same listing again (a change seen twice): nothing to do
            self.remove(tip_id)
        pos = len(self.ids)
        self.ids.append(tip_id)
        self.versions.append(version)
        self.position[tip_id] = pos
        if pos >= len(self.live):
            self.live = np.concatenate([self.live, np.zeros(len(self.live), dtype=bool)])
        self.live[pos] = True
        for token in tokens:
            postings = self.postings.get(token)
            if postings is None:
                postings = self.postings[token] = array("i")
            postings.append(pos)
            self._arrays.pop(token, None)
        self._ranks = None

    def remove(self, tip_id: str) -> None:
        pos = self.position.pop(tip_id, None)
        if pos is None:
            return
        self.live[pos] = False
        self.dead += 1
        if self.dead > max(1024, len(self.position)):
            self._compact()

    def _array(self, token: str) -> np.ndarray | None:
        found = self._arrays.get(token)
        if found is None:
            postings = self.postings.get(token)
            if postings is None:
                return None
            found = self._arrays[token] = np.frombuffer(postings, dtype=np.int32).copy()
        return found

    def _rank(self) -> tuple[np.ndarray, list[str]]:
        if self._ranks is None:
            order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
            ranks = np.empty(len(self.ids), dtype=np.int64)
            ranks[order] = np.arange(len(self.ids), dtype=np.int64)
            self._ranks, self._sorted_ids = ranks, [self.ids[i] for i in order]
        return self._ranks, self._sorted_ids

    def _compact(self) -> None:
        n = len(self.ids)
        keep = self.live[:n]
        new_pos = np.cumsum(keep) - 1
        self.ids = [tip_id for tip_id, alive in zip(self.ids, keep, strict=True) if alive]
        self.versions = [v for v, alive in zip(self.versions, keep, strict=True) if alive]
        self.position = {tip_id: pos for pos, tip_id in enumerate(self.ids)}
        postings: dict[str, array] = {}
        for token in self.postings:
            positions = self._array(token)
            assert positions is not None
            alive = positions[keep[positions]]
            if len(alive):
                postings[token] = array("i", new_pos[alive].astype(np.int32).tobytes())
        self.postings, self._arrays, self._ranks = postings, {}, None
        self.live = np.zeros(max(1024, 2 * len(self.ids)), dtype=bool)
        self.live[:len(self.ids)] = True
        self.dead = 0

    def search(self, tokens: list[str], required: list[str], after: tuple[int, str] | None, limit: int) -> list[Hit]:
        n = len(self.ids)
        found = [a for a in (self._array(t) for t in dict.fromkeys(tokens)) if a is not None]
        if not found or n == 0:
            return []
        scores = np.bincount(np.concatenate(found), minlength=n)
        ok = (scores > 0) & self.live[:n]
        for token in required:
            positions = self._array(token)
            if positions is None:
                return []
            mask = np.zeros(n, dtype=bool)
            mask[positions] = True
            ok &= mask
        ranks, sorted_ids = self._rank()
        # One integer key orders by score, then tip id, both descending.
        keys = scores.astype(np.int64) * (n + 1) + ranks
        if after is not None:
            score, last_id = after
            # ids below last_id rank below the position last_id has (or would have) among the sorted ids
            below = bisect_left(sorted_ids, last_id)
            ok &= keys < score * (n + 1) + below
        candidates = np.flatnonzero(ok)
        if len(candidates) > limit:
            top = np.argpartition(-keys[candidates], limit - 1)[:limit]
            candidates = candidates[top]
        candidates = candidates[np.argsort(-keys[candidates], kind="stable")]
        return [Hit(self.ids[p], int(scores[p])) for p in candidates]


class SearchIndex:
    """Listed tips of every tenant, by text token and by filter value."""

    def __init__(self) -> None:
        self._tenants: dict[str, _TenantIndex] = {}

    def __len__(self) -> int:
        return sum(len(t) for t in self._tenants.values())

    def put(self, doc: Mapping[str, Any]) -> None:
        """A tip document as stored: indexed while it is listed (with its `search_terms`), else removed."""
        tenant = self._tenants.setdefault(doc["tenant_id"], _TenantIndex())
        if doc.get("status") != "listed":
            tenant.remove(doc["tip_id"])
            return
        tenant.put(doc["tip_id"], doc.get("listed_version"),
                   [*(doc.get("search_terms") or ()), *_doc_filter_tokens(doc)])

    def remove(self, tenant: str, tip_id: str) -> None:
        index = self._tenants.get(tenant)
        if index is not None:
            index.remove(tip_id)

    def search(self, tenant: str, tokens: list[str], filters: Mapping[str, Any], *,
               after: tuple[int, str] | None = None, limit: int = 20) -> list[Hit]:
        """The best `limit` listed tips with at least one of `tokens` that pass `filters`, by the number
        of tokens they have, then tip id, both descending; after `after` (score, tip id) when given."""
        index = self._tenants.get(tenant)
        if index is None or limit < 1:
            return []
        return index.search(tokens, filter_tokens(filters), after, limit)
