"""Byte ranges of media downloads (RFC 9110)."""

from __future__ import annotations

from telesales_runtime.errors import DomainError


class RangeNotSatisfiable(DomainError):
    def __init__(self, size: int) -> None:
        super().__init__("range_not_satisfiable", f"the media has {size} bytes", size=size)
        self.size = size


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a `Range: bytes=...` header (RFC 9110) for a body of `size`
    bytes; None when the whole body is to be sent (no header, another unit, or several ranges, which a
    server may answer in full). Raises RangeNotSatisfiable for a range outside the body or malformed."""
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    if not dash:
        raise RangeNotSatisfiable(size)
    first_s, last_s = first_s.strip(), last_s.strip()
    try:
        if first_s == "":  # suffix: the last N bytes
            length = int(last_s)
            if length <= 0 or size == 0:
                raise RangeNotSatisfiable(size)
            return max(0, size - length), size - 1
        first = int(first_s)
        last = int(last_s) if last_s else size - 1
    except ValueError as error:
        raise RangeNotSatisfiable(size) from error
    if first < 0 or first >= size or last < first:
        raise RangeNotSatisfiable(size)
    return first, min(last, size - 1)


