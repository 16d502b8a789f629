"""Who reads a tip's script and media: the author, reviewers and operators any version; buyers whose
purchase the ledger posted the listed version and any later approved one (also after delisting)."""

from __future__ import annotations

from .actors import Actor
from .purchases import PurchaseStatus
from .workflow import VersionStatus


def sees_every_version(actor: Actor, author_id: str) -> bool:
    return actor.privileged or author_id == actor.user_id


def may_read(actor: Actor | None, author_id: str, purchase_status: str | None) -> bool:
    """Whether `actor` may read the tip at all (a machine client never)."""
    if actor is None:
        return False
    return sees_every_version(actor, author_id) or purchase_status == PurchaseStatus.GRANTED


def readable(actor: Actor, author_id: str, version_status: str) -> bool:
    """Whether a reader of the tip may read this version of it: buyers only approved ones."""
    return sees_every_version(actor, author_id) or version_status == VersionStatus.APPROVED
