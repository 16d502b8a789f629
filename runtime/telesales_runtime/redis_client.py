"""Redis client factory (shared so every service configures timeouts the same way)."""

from __future__ import annotations

import redis.asyncio as redis


def connect_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3, health_check_interval=30)
