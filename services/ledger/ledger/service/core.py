"""What every operation of the ledger shares: the clock, the policy of a tenant, the unit of work (decide
inside a MongoDB transaction on balances read in it, then write the decided `Changes`) and the rows that
announce a change on the outbox.

Decisions are made inside the transaction on balances read in it (snapshot), so a concurrent change of the
same accounts makes the transaction conflict and run again on fresh balances; the store's guarded updates
refuse a balance below zero even if a decision were wrong. The events a change announces are encoded
here (with this service's source) and written in the same transaction."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from prometheus_client import Counter as MetricCounter
from pydantic import BaseModel

from telesales_contracts import Topic
from telesales_runtime.cache import TtlCache
from telesales_runtime.consumer import Delivery
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.outbox import encoded_outbox_row, outbox_row

from ..domain import Changes, DomainError, LedgerPolicy, Transfer
from ..settings import LedgerSettings
from ..store import AlreadyWritten, Doc, LedgerStore, Session

T = TypeVar("T")
Build = Callable[[Session], Awaitable[tuple[Changes, T]]]

COINS_MOVED = MetricCounter("ledger_coins_moved_total", "Coins moved by transfers, by kind.", ["kind"])

SYSTEM_ACTOR = "system"


def utcnow() -> datetime:
    """Now, to the millisecond MongoDB keeps (so a stored time reads back equal)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Result:
    """What an idempotent operation returns: the stored record, and whether it was decided before."""

    doc: Doc
    replayed: bool


def replay(op: Doc, print_: str, op_id: str) -> Result:
    """The first result of an operation id used again: the same content, or a conflict."""
    if op.get("fingerprint") != print_:
        raise DomainError("operation_id_conflict", f"id {op_id} was used before with other content")
    return Result(op, True)


class AccountLocks:
    """In-process locks per account: operations of this process on the same accounts wait for each other
    instead of failing each other's transactions (write conflicts, retried after a back-off). Correctness
    never depends on them: between processes MongoDB's conflict detection decides, as it would here."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: Counter[str] = Counter()

    @asynccontextmanager
    async def hold(self, keys: Iterable[str]) -> AsyncIterator[None]:
        ordered = sorted(set(keys))  # one order for everyone: no deadlock
        for key in ordered:
            self._waiting[key] += 1
            self._locks.setdefault(key, asyncio.Lock())
        acquired: list[str] = []
        try:
            for key in ordered:
                await self._locks[key].acquire()
                acquired.append(key)
            yield
        finally:
            for key in reversed(acquired):
                self._locks[key].release()
            for key in ordered:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key], self._locks[key]


class LedgerCore:
    """The ledger's shared parts; every operation module takes it as `ledger`."""

    def __init__(self, settings: LedgerSettings, store: LedgerStore, dead_letters: DeadLetterPublisher,
                 notify_outbox: Callable[[], None]) -> None:
        self.settings = settings
        self.store = store
        self.dead_letters = dead_letters
        self.notify_outbox = notify_outbox
        self.tz = settings.tz
        self._config = TtlCache(settings.config_cache_seconds)
        self.locks = AccountLocks()

    # ---- configuration -------------------------------------------------------------------------------

    async def policy(self, tenant: str) -> LedgerPolicy:
        cached = self._config.get(tenant)
        if cached is None:
            value, _ = await self.store.get_config(tenant, "policy")
            cached = LedgerPolicy() if value is None else LedgerPolicy.model_validate(value)
            self._config.put(tenant, cached)
        return cached

    def forget_policy(self, tenant: str) -> None:
        self._config.drop(tenant)

    # ---- events --------------------------------------------------------------------------------------

    def row(self, topic: Topic, data: BaseModel, tenant: str, key: str, subject: str | None = None) -> Doc:
        event = topic.event(data, source=self.settings.source, tenantid=tenant, subject=subject or key)
        return outbox_row(topic.name, event, key)

    def trusted_row(self, topic: Topic, data: Doc, tenant: str, key: str, subject: str) -> Doc:
        event_id, payload = topic.encode_trusted(data, source=self.settings.source, tenantid=tenant, subject=subject)
        return encoded_outbox_row(topic.name, event_id, tenant, payload, key)

    # ---- units of work -------------------------------------------------------------------------------

    async def commit(self, build: Build[T], keys: Iterable[str] = ()) -> T:
        """Run `build` in a transaction and write what it decided (holding this process's locks on the
        accounts `keys`); the outbox relay is woken afterwards."""
        async with self.locks.hold(keys):
            return await self._commit_unlocked(build)

    async def commit_once(self, build: Build[T], keys: Iterable[str]) -> T:
        """`commit` of an operation under a client-chosen id: when a concurrent request committed the same
        id meanwhile (a unique index refuses the second), `build` runs again, finds the first and answers
        as to a retry."""
        try:
            return await self.commit(build, keys)
        except AlreadyWritten:
            return await self.commit(build, keys)

    async def _commit_unlocked(self, build: Build[T]) -> T:
        written: list[Changes] = []

        async def work(session: Session) -> T:
            written.clear()
            changes, result = await build(session)
            if not changes.empty():
                changes.outbox += [self.row(e.topic, e.data, changes.tenant, e.key, e.subject) for e in changes.events]
                await self.store.write(changes, session)
                written.append(changes)
            return result

        result = await self.store.transaction(work)
        if written:
            self.notify_outbox()
            for transfer in written[0].transfers:
                if isinstance(transfer, Transfer):  # not a refused purchase
                    COINS_MOVED.labels(transfer.kind).inc(transfer.amount)
        return result

    async def per_tenant(self, deliveries: Sequence[Delivery],
                         handle: Callable[[str, list[Delivery]], Awaitable[Any]]) -> None:
        """Hand each tenant's unprocessed deliveries to `handle`. When another consumer processed some of
        them meanwhile (a rebalance hands a partition over while its batch is still being written), the
        transaction fails on the inbox's unique id and what is left is handled again."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            try:
                await handle(tenant, fresh)
            except AlreadyWritten:
                left = (await self.store.inbox.unprocessed_by_tenant(fresh)).get(tenant)
                if left:
                    await handle(tenant, left)
