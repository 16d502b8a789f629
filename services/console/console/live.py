"""The live channel's fan-out: one Redis pub/sub subscription per process, handing each notification to the
local streams of its user, and the Server-Sent Events each stream writes.

Why a stream never loses nor repeats a notification: every notification is committed in MongoDB (with the
user's next seq) before it is announced, so MongoDB holds everything pub/sub may lose. A stream keeps the
last seq it sent (notifications.StreamCursor): a seq beyond the next one makes it read the gap from MongoDB,
a seq it sent already is skipped. After every (re)subscription each stream reads MongoDB after its last seq,
since messages published while the subscription was down are gone."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from telesales_runtime.redis_client import connect_redis

from .notifications import Notification, Step, StreamCursor, sse_comment, sse_event, sse_retry
from .store import NotificationStore

log = logging.getLogger(__name__)

CHANNEL = "console:notifications"
RETRY_MILLISECONDS = 3000  # the browser's wait before it reconnects a dropped stream
MAX_PENDING = 256  # a stream this far behind drops its queue and reads MongoDB instead
READ_PAGE = 500

UserKey = tuple[str, str]  # (tenant, user)


class LiveStream:
    """One open stream: what pub/sub brought for it and has not been written yet."""

    __slots__ = ("key", "cursor", "pending", "wake", "resync", "closed")

    def __init__(self, key: UserKey) -> None:
        self.key = key
        self.cursor = StreamCursor()
        self.pending: deque[tuple[int, str]] = deque()
        self.wake = asyncio.Event()
        self.resync = False
        self.closed = False

    def offer(self, seq: int, data_json: str) -> None:
        if len(self.pending) >= MAX_PENDING:  # a slow reader: MongoDB has it all, read from there
            self.pending.clear()
            self.resync = True
        else:
            self.pending.append((seq, data_json))
        self.wake.set()

    def ask_resync(self) -> None:
        self.resync = True
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class LiveHub:
    """Per process: the subscription, the local streams by user, and the announcing of new notifications."""

    def __init__(self, *, redis_url: str, store: NotificationStore, heartbeat_seconds: float,
                 channel: str = CHANNEL) -> None:
        self.redis_url = redis_url
        self.store = store
        self.heartbeat_seconds = heartbeat_seconds
        self.channel = channel
        self.streams: dict[UserKey, set[LiveStream]] = {}
        self.subscribed = asyncio.Event()
        self.subscriptions = 0  # how many times it (re)subscribed: tests and metrics
        self.client_name = f"console-live-{os.getpid()}-{id(self):x}"  # its connection in Redis's CLIENT LIST
        self._publisher: redis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._restore_signals: list[tuple[int, Any]] = []

    # ---- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._publisher = connect_redis(self.redis_url)
        self._task = asyncio.create_task(self._subscribe_forever(), name="console-live-subscription")
        self._end_streams_on_exit_signals()

    async def stop(self) -> None:
        self.close_streams()
        for number, handler in self._restore_signals:
            signal.signal(number, handler)
        self._restore_signals.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._publisher is not None:
            await self._publisher.aclose()

    async def end_streams(self) -> None:
        self.close_streams()

    def close_streams(self) -> None:
        """End every open stream (the server is shutting down: it waits for open responses to end)."""
        for streams in list(self.streams.values()):
            for stream in list(streams):
                stream.close()

    async def ping(self) -> None:
        """Readiness: Redis answers the connection announcements are published on."""
        if self._publisher is None:
            raise ConnectionError("the live channel has not started")
        await self._publisher.ping()

    async def ready(self) -> None:
        """Readiness: the subscription is up (a stream opened before it would miss announcements)."""
        if not self.subscribed.is_set():
            raise ConnectionError("the notifications subscription to Redis is not up")

    def _end_streams_on_exit_signals(self) -> None:
        """uvicorn waits for open responses to end before the lifespan's shutdown runs, and a stream never
        ends by itself: on SIGTERM/SIGINT end the streams first, then let the server's own handler act."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(number)
            if not callable(previous):
                continue

            def on_signal(signum: int, frame: Any, previous: Callable[..., Any] = previous) -> None:
                loop.call_soon_threadsafe(self.close_streams)
                previous(signum, frame)

            signal.signal(number, on_signal)
            self._restore_signals.append((number, previous))

    # ---- announcing (after commit) ---------------------------------------------------------------------

    async def announce(self, notifications: Sequence[tuple[str, str, Notification]]) -> None:
        """Publish (tenant, user, notification) to every replica; raises RedisError when Redis does not take
        them (the notifications are committed: the streams find them in MongoDB when the link is back)."""
        if not notifications or self._publisher is None:
            return
        async with self._publisher.pipeline(transaction=False) as pipe:
            for tenant, user, notification in notifications:
                pipe.publish(self.channel, json.dumps({"tenant": tenant, "user": user, "seq": notification.seq,
                                                       "notification": notification.model_dump(mode="json")},
                                                      ensure_ascii=False, separators=(",", ":")))
            await pipe.execute()

    # ---- subscription and dispatch ---------------------------------------------------------------------

    async def _subscribe_forever(self) -> None:
        delay = 0.2
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=3, health_check_interval=10,
                                      client_name=self.client_name)
        try:
            while True:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(self.channel)
                    self.subscriptions += 1
                    self.subscribed.set()
                    delay = 0.2
                    # What was published while no subscription was up is gone: every stream reads MongoDB.
                    for streams in list(self.streams.values()):
                        for stream in streams:
                            stream.ask_resync()
                    while True:
                        message = await pubsub.get_message(timeout=5.0)
                        if message is not None and message.get("type") == "message":
                            self.dispatch(message["data"])
                except (RedisError, OSError) as error:
                    self.subscribed.clear()
                    log.warning("notifications subscription lost; subscribing again",
                                extra={"error": str(error), "retry_in": delay})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                finally:
                    await pubsub.aclose()
        finally:
            self.subscribed.clear()
            await client.aclose()

    def dispatch(self, raw: bytes | str) -> None:
        """One announcement to the local streams of its user (nothing when it has none here)."""
        try:
            message = json.loads(raw)
            streams = self.streams.get((message["tenant"], message["user"]))
            if not streams:
                return
            seq = int(message["seq"])
            data = json.dumps(message["notification"], ensure_ascii=False, separators=(",", ":"))
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable notification announcement dropped")
            return
        for stream in streams:
            stream.offer(seq, data)

    # ---- one stream ------------------------------------------------------------------------------------

    async def stream(self, tenant: str, user: str, last_event_id: int | None) -> AsyncIterator[bytes]:
        """The SSE body of one client: with `last_event_id`, what came after it first; without, only what is
        committed from now on. Registered before the database is read, so nothing committed meanwhile slips
        between the read and the subscription."""
        stream = LiveStream((tenant, user))
        self.streams.setdefault(stream.key, set()).add(stream)
        try:
            yield sse_retry(RETRY_MILLISECONDS)
            last = await self.store.last_seq(tenant, user)
            # A Last-Event-ID beyond the user's last seq is not one of theirs: start from now.
            stream.cursor.last = last if last_event_id is None else min(last_event_id, last)
            if stream.cursor.last < last:
                stream.resync = True
            while not stream.closed:
                chunk = await self._next_chunk(stream)
                if chunk:
                    yield chunk
        finally:
            streams = self.streams.get(stream.key)
            if streams is not None:
                streams.discard(stream)
                if not streams:
                    del self.streams[stream.key]

    async def _next_chunk(self, stream: LiveStream) -> bytes:
        """What the stream writes next: events, or a heartbeat comment after a quiet while."""
        if not (stream.pending or stream.resync or stream.closed):
            stream.wake.clear()
            try:
                async with asyncio.timeout(self.heartbeat_seconds):
                    await stream.wake.wait()
            except TimeoutError:
                return sse_comment("heartbeat")
        if stream.closed:
            return b""
        if stream.resync:
            stream.resync = False
            stream.pending.clear()  # all committed, so all in what the database gives now
            return await self._read_after(stream)
        out: list[bytes] = []
        while stream.pending:
            seq, data = stream.pending.popleft()
            step = stream.cursor.step(seq)
            if step is Step.SEND:
                out.append(sse_event(seq, data))
                stream.cursor.advance(seq)
            elif step is Step.FILL_GAP:  # committed, like everything before it: the database has them all
                out.append(await self._read_after(stream))
        return b"".join(out)

    async def _read_after(self, stream: LiveStream) -> bytes:
        tenant, user = stream.key
        out: list[bytes] = []
        while True:
            page = await self.store.after(tenant, user, stream.cursor.last, READ_PAGE)
            for notification in page:
                out.append(sse_event(notification.seq, notification.model_dump_json()))
                stream.cursor.advance(notification.seq)
            if len(page) < READ_PAGE:
                return b"".join(out)
