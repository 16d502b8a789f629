"""Redis client factory (shared so every service configures timeouts the same way)."""

from __future__ import annotations

import redis.asyncio as redis

# A burst of requests waits for a free connection (up to POOL_WAIT_SECONDS) instead of failing with
# "Too many connections", as redis-py's default pool (100 connections, no waiting) does.
MAX_CONNECTIONS = 128
POOL_WAIT_SECONDS = 5


def connect_redis(url: str) -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT_SECONDS,
                                                 socket_connect_timeout=3, socket_timeout=3, health_check_interval=30)
    return redis.Redis.from_pool(pool)
