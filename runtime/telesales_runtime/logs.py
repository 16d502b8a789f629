"""Logging: one JSON object per line (or plain text for people), with the service name on every line.

Personal data is masked on every line, whatever the format: phone numbers (Chinese mobiles with or without
+86/86, landlines, digits grouped by spaces or dashes) become 138****5678 in the message, every extra field
and exception text; names in extra fields whose key says name (name, contact_name, customer_name, ...)
become 张**."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .masking import mask_name, mask_phones

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

# Keys of extra fields holding a person's name; any other key ending in `_name` too, except these.
NAME_KEYS = frozenset({"name", "fullname", "full_name", "realname", "real_name", "nickname", "nick_name",
                       "username", "user_name", "contact", "contact_name", "customer", "customer_name"})
NOT_PERSON_NAME_KEYS = frozenset({"service_name", "topic_name", "file_name", "filename", "host_name", "hostname",
                                  "field_name", "tier_name", "pool_name", "event_name", "group_name", "module_name",
                                  "func_name", "funcname", "logger_name", "metric_name", "index_name",
                                  "collection_name", "db_name", "database_name", "queue_name", "route_name",
                                  "business_line_name", "product_name", "channel_name", "region_name",
                                  "team_name", "company_name", "tip_name", "category_name", "tenant_name"})


_PERSON_PREFIXES = frozenset({"contact", "customer", "agent", "seller", "buyer", "user", "full", "real", "nick",
                              "display", "lead", "author", "owner"})


def is_name_key(key: str) -> bool:
    """Whether an extra field called `key` holds a person's name."""
    lowered = key.lower()
    if lowered in NOT_PERSON_NAME_KEYS:
        return False
    # snake_case (contact_name) and camelCase (contactName) alike
    return lowered in NAME_KEYS or lowered.endswith("_name") or lowered.removesuffix("name") in _PERSON_PREFIXES


def mask_value(value: Any, key: str | None = None) -> Any:
    """A value of a log field masked: phones in strings (nested lists and mappings too), names under a
    name key, an integer that is a phone number."""
    if isinstance(value, str):
        if key is not None and is_name_key(key):
            return mask_name(value)
        return mask_phones(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        text = str(value)
        masked = mask_phones(text)
        return value if masked == text else masked
    if isinstance(value, Mapping):
        return {k: mask_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(v, key) for v in value]
    if isinstance(value, bytes):
        return mask_phones(value.decode("utf-8", "replace"))
    return value


def _mask_arg(value: Any) -> Any:
    # Arguments of a %-format keep their type unless masking changed them (a %d keeps its integer).
    masked = mask_value(value)
    return value if masked == value else masked


def mask_record(record: logging.LogRecord) -> None:
    """Mask a record in place: its message (and %-arguments), every extra field, its exception and stack
    text. Masking twice changes nothing, so every handler can do it."""
    if isinstance(record.msg, str):
        record.msg = mask_phones(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_mask_arg(a) for a in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {k: _mask_arg(v) for k, v in record.args.items()}
    try:
        message = record.getMessage()
    except Exception:  # a broken format: logging reports it as it would without masking
        message = None
    if message is not None and mask_phones(message) != message:  # a phone only the formatted message shows
        record.msg, record.args = mask_phones(message), ()
    for key, value in list(vars(record).items()):
        if key not in _RESERVED and not key.startswith("_"):
            setattr(record, key, mask_value(value, key))
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_phones(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_phones(record.stack_info)


class MaskingFilter(logging.Filter):
    """Masks personal data in every record it sees (see `mask_record`); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


class PlainFormatter(logging.Formatter):
    """Text lines for people, masked like the JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        mask_record(record)
        return super().format(record)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        mask_record(record)
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stdout)
    if json_lines:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(PlainFormatter(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # uvicorn's loggers have handlers of their own (its access lines carry query strings such as ?phone=):
    # masked on the logger, before any handler sees them.
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskingFilter) for f in logger.filters):
            logger.addFilter(MaskingFilter())
