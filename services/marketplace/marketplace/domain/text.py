"""Search tokens: what makes Chinese text findable without a segmenter."""

from __future__ import annotations

import re

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[A-Za-z0-9]+")
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")
UNIGRAM = "1:"  # prefix of single CJK characters (indexed so one-character queries find something)


def search_tokens(*texts: str | None) -> list[str]:
    """What a document is found by: the character bigrams of each run of Chinese characters (MongoDB's
    text index does not segment Chinese), single Chinese characters (prefixed), and ASCII words and
    numbers in lower case. Distinct, in first-seen order."""
    seen: dict[str, None] = {}
    for text in texts:
        for run in _TOKEN.findall(text or ""):
            if _CJK_RUN.match(run):
                for i in range(len(run) - 1):
                    seen.setdefault(run[i:i + 2])
                for ch in run:
                    seen.setdefault(UNIGRAM + ch)
            else:
                seen.setdefault(run.lower())
    return list(seen)


def query_tokens(query: str) -> list[str]:
    """The tokens a query matches documents by: bigrams of its Chinese runs (a run of one character
    matches by that character), ASCII words in lower case."""
    seen: dict[str, None] = {}
    for run in _TOKEN.findall(query):
        if _CJK_RUN.match(run):
            if len(run) == 1:
                seen.setdefault(UNIGRAM + run)
            for i in range(len(run) - 1):
                seen.setdefault(run[i:i + 2])
        else:
            seen.setdefault(run.lower())
    return list(seen)


