"""Which of the build's compressed copies an Accept-Encoding header allows (RFC 9110 12.5.3)."""

from __future__ import annotations

import pytest

from console import domain


@pytest.mark.parametrize(("header", "allowed"), [
    ("gzip, deflate, br, zstd", {"gzip", "deflate", "br", "zstd"}),
    ("gzip", {"gzip"}),
    ("GZip ;q=0.5, BR", {"gzip", "br"}),
    ("br;q=0, gzip", {"gzip"}),
    ("*", {"br", "gzip"}),
    ("*;q=0.1, br;q=0", {"gzip"}),
    ("gzip;q=0", set()),
    ("gzip;q=nonsense", set()),
    ("identity", {"identity"}),
    ("", set()),
    (None, set()),
    (" , ;q=1, ", set()),
])
def test_accepted_codings(header: str | None, allowed: set[str]) -> None:
    assert domain.accepted_codings(header) == allowed
