"""The platform's dead letters (family `dead_letters`, per service and original topic; a topic not in the
contracts counts as `other`)."""

from __future__ import annotations

from telesales_contracts import topics as t

from .counting import Counting
from .facts import Fact
from .states import World

# Topic -> rule.
DEAD_LETTER_RULES: dict[str, str] = {t.DEAD_LETTERS.name: "_dead_letter"}


class DeadLetterRules(Counting):
    """The rule of a dead letter."""

    def _dead_letter(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        topic = d.original_topic if d.original_topic in t.BY_NAME else "other"
        self.count(fact.tenant, "dead_letters", day, (d.service[:64], topic), {"dead_letters": 1})

