"""The error every HTTP route answers as RFC 9457 problem+json. A module of its own (no FastAPI, no
settings) so that auth, http and the services all raise the same type without importing each other."""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error answered as problem+json; raise it anywhere in a route or dependency."""

    def __init__(self, status: int, title: str, detail: str, *, type_: str = "about:blank",
                 headers: dict[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.headers = headers
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.extensions = extensions


def coded_problem(status: int, code: str, message: str, **extensions: Any) -> Problem:
    """The problem answering a rule a request broke, named by its machine-readable `code` (also its title:
    "holding_cap_reached" -> "Holding cap reached")."""
    return Problem(status, code.replace("_", " ").capitalize(), message, code=code, **extensions)
