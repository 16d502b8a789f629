"""The error every service's domain raises when a request breaks a rule (pure: no I/O)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the rules refuse; `code` is stable for clients, the message explains, and `details` are
    extra facts for the answer (e.g. which limit)."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
