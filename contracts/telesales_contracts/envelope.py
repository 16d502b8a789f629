"""CloudEvents 1.0 envelope (structured JSON mode) shared by every event on the platform.

`id`, `source`, `specversion` and `type` are required, as the CloudEvents spec says: `id` is the idempotency key
of every consumer, so an event without one is refused rather than given a random one (a redelivery would then
count twice). `tenantid` is a CloudEvents extension attribute: one platform serves several companies, and no
consumer may mix their data. Other extension attributes are kept as they come (`model_extra`).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

DEFAULT_TENANT = "default"
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"

# The data of an event that systems outside the platform publish (a dialer, a CRM, an HR system, a web site):
# a field the contract does not name is ignored, never a reason to refuse the event (forward compatibility:
# a producer may send a field before its consumers know it). Leads keep theirs (leads.py, tolerant.py).
FROM_OUTSIDE = ConfigDict(extra="ignore")

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_TENANT_ID = re.compile(TENANT_ID_PATTERN)


def is_tenant_id(value: object) -> bool:
    """Whether `value` is a well-formed tenant id (the rule of the `tenantid` attribute)."""
    return isinstance(value, str) and _TENANT_ID.match(value) is not None


TenantId = Annotated[
    str,
    StringConstraints(pattern=TENANT_ID_PATTERN),
    Field(description="Tenant (company) the event belongs to; lowercase letters, digits and dashes."),
]


def _require_timezone(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("time must carry a timezone offset (RFC 3339), e.g. 2026-11-24T09:30:00+08:00")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_require_timezone)]

# A JSON media type: application/json, text/json or a structured-syntax suffix (application/vnd.acme+json), any
# case, with or without parameters (charset=utf-8). Data of every topic is JSON.
_JSON_MEDIA_TYPE = re.compile(r"(application/([a-z0-9!#$&^_.-]+\+)?json|text/json)\s*(;.*)?", re.IGNORECASE | re.DOTALL)


def is_json_media_type(value: str) -> bool:
    return _JSON_MEDIA_TYPE.fullmatch(value.strip()) is not None


def _require_json_media_type(value: str) -> str:
    if not is_json_media_type(value):
        raise ValueError(f"data of this platform is JSON: datacontenttype must be application/json (or another JSON "
                         f"media type), not {value!r}")
    return value


JsonMediaType = Annotated[str, StringConstraints(max_length=200), AfterValidator(_require_json_media_type)]

DataT = TypeVar("DataT", bound=BaseModel)


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 event in structured JSON mode, with the platform's `tenantid` extension."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = Field(description="CloudEvents version; required.")
    id: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)] = Field(
        description="Unique per source; required. Consumers ignore a second delivery of the same id.",
    )
    source: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="URI-reference of the system that produced the event, e.g. /crm/acme or urn:web:landing."
    )
    type: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="Event type, fixed per topic: telesales.<topic>, e.g. telesales.leads.received.v1 (other "
                    "spellings of it are accepted, see topics.Topic.accepts_type).")
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: Annotated[str, StringConstraints(max_length=500)] | None = None
    datacontenttype: JsonMediaType = Field(default="application/json",
                                           description="Media type of data: JSON (application/json, text/json or "
                                                       "a +json type, parameters allowed).")
    tenantid: TenantId = DEFAULT_TENANT
    data: DataT

    def to_json_bytes(self) -> bytes:
        # Optional envelope attributes are left out when unset (CloudEvents has no null attributes);
        # null data fields stay, as their schemas say.
        return self.model_dump_json(exclude={"subject"} if self.subject is None else None).encode()


EVENT_TYPE_PREFIX = "telesales."


def event_type_for(topic: str) -> str:
    """CloudEvents `type` of the events on a topic: the topic name under the platform prefix."""
    return f"{EVENT_TYPE_PREFIX}{topic}"


# The words of a type: runs of lowercase letters (a capital may start one: camelCase), of capitals, and of
# digits; anything else separates them.
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_PLATFORM = ("telesales",)


def type_words(value: str) -> tuple[str, ...]:
    """`value` as lowercase words: "Telesales.LeadsReceived_V1" and "leads-received-v1" give
    (telesales,) leads, received, v, 1."""
    return tuple(word.lower() for word in _WORDS.findall(value))


@lru_cache(maxsize=4096)  # producers send few distinct types, over and over
def spells_event_type_of(value: str, topic: str) -> bool:
    """Whether `value` is a spelling of the type of `topic`'s events. The rule: its words (type_words) are
    the topic name's words, optionally after the platform prefix `telesales` and optionally without the
    version at the end. So on leads.received.v1: telesales.leads.received.v1 (the canonical type),
    leads.received.v1 (the topic's name), LEADS_RECEIVED_V1, leads-received, Telesales.LeadsReceived.V1;
    not telesales.leads.received.v2, lead.received, leadsreceived or com.acme.lead.created."""
    name, _, version = topic.rpartition(".")  # topic names are <domain>.<event>.v<N>
    event_words = type_words(name)
    words = type_words(value)
    if words[:1] == _PLATFORM:
        words = words[1:]
    return bool(words) and words in (event_words, (*event_words, *type_words(version)))


def new_event_id() -> str:
    """A fresh event id, for the platform's own publishers (an event read from outside must bring its own)."""
    return str(uuid.uuid4())


def envelope_fields(event: CloudEvent[Any]) -> dict[str, Any]:
    """The envelope attributes without the data, for logs and dead-letter records."""
    return event.model_dump(mode="json", exclude={"data"}, exclude_none=True)
