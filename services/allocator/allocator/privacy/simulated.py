"""A simulated number-privacy provider for development and tests: middle numbers from a configured pool
(ALLOCATOR_PRIVACY_SIMULATED_NUMBERS), bindings kept with their expiry in the allocator's MongoDB
(store/privacy_numbers.py). Each middle number serves one live binding at a time (stricter than AXB, where a
number may serve several agents): when all are bound, binding is refused until the first one expires."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from ..store.privacy_numbers import Doc, SimulatedNumberStore
from .provider import POOL_EXHAUSTED, Binding, PrivacyError

# How often a free number is tried again after another binding took it between the read and the write.
TAKE_ATTEMPTS = 8


def binding_of(doc: Doc) -> Binding:
    expires_at = doc["expires_at"]
    if expires_at.tzinfo is None:  # MongoDB keeps UTC without the zone
        expires_at = expires_at.replace(tzinfo=UTC)
    return Binding(middle_number=doc["middle_number"], binding_id=doc["_id"], expires_at=expires_at)


class SimulatedProvider:
    name = "simulated"

    def __init__(self, store: SimulatedNumberStore, numbers: Sequence[str],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.numbers = tuple(numbers)
        self.clock = clock

    async def bind(self, *, customer_number: str, agent_number: str | None, ttl_seconds: int,
                   reference: str) -> Binding:
        now = self.clock()
        # Milliseconds, as MongoDB keeps them: the expiry answered is the one stored.
        expires_at = (now + timedelta(seconds=ttl_seconds)).replace(microsecond=now.microsecond // 1000 * 1000)
        live = await self.store.renew(reference=reference, now=now, expires_at=expires_at)
        if live is not None:
            return binding_of(live)
        for _attempt in range(TAKE_ATTEMPTS):
            bound = await self.store.live_numbers(self.numbers, now)
            free = [n for n in self.numbers if n not in bound]
            if not free:
                raise self._exhausted(bound, now)
            doc = await self.store.take(middle_number=secrets.choice(free), reference=reference,
                                        customer_number=customer_number, agent_number=agent_number, now=now,
                                        expires_at=expires_at)
            if doc is not None:
                return binding_of(doc)
            live = await self.store.renew(reference=reference, now=now, expires_at=expires_at)
            if live is not None:  # the same agent and lead bound meanwhile (a double click)
                return binding_of(live)
        raise PrivacyError(POOL_EXHAUSTED, "every free middle number was taken meanwhile; try again", retry_after=1)

    async def unbind(self, binding_id: str) -> None:
        await self.store.remove(binding_id)

    def _exhausted(self, bound: dict[str, datetime], now: datetime) -> PrivacyError:
        if not self.numbers:
            return PrivacyError(POOL_EXHAUSTED, "the simulated provider has no middle numbers "
                                "(ALLOCATOR_PRIVACY_SIMULATED_NUMBERS is empty)")
        soonest = min(at if at.tzinfo else at.replace(tzinfo=UTC) for at in bound.values())
        wait = max(1.0, (soonest - now).total_seconds())
        return PrivacyError(POOL_EXHAUSTED, f"all {len(self.numbers)} middle numbers are bound; the first is free "
                            f"again in {wait:.0f} s", retry_after=wait)
