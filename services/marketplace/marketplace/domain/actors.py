"""Who acts in the marketplace, as its rules see them."""

from __future__ import annotations

from dataclasses import dataclass

PRIVILEGED_ROLES = ("reviewer", "operator")


@dataclass(frozen=True)
class Actor:
    """Who calls: the token's sub, and its role here: operator (reviews; operators and admin) or agent."""

    user_id: str
    role: str = "agent"

    @property
    def privileged(self) -> bool:
        return self.role in PRIVILEGED_ROLES
