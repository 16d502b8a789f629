"""The single source of every event schema and topic on the telesales platform."""

from .envelope import CLOUDEVENTS_CONTENT_TYPE, DEFAULT_TENANT, CloudEvent, envelope_fields, is_tenant_id
from .topics import ALL_TOPICS, BY_NAME, Topic, TopicReading, WrongEventType

__all__ = [
    "ALL_TOPICS",
    "BY_NAME",
    "CLOUDEVENTS_CONTENT_TYPE",
    "DEFAULT_TENANT",
    "CloudEvent",
    "Topic",
    "TopicReading",
    "WrongEventType",
    "envelope_fields",
    "is_tenant_id",
]
