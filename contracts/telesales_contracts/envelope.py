"""CloudEvents 1.0 envelope (structured JSON mode) shared by every event on the platform.

`id` is the idempotency key of every consumer. `tenantid` is a CloudEvents extension attribute:
one platform serves several companies, and no consumer may mix their data.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

DEFAULT_TENANT = "default"
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"

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

DataT = TypeVar("DataT", bound=BaseModel)


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 event in structured JSON mode, with the platform's `tenantid` extension."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)] = Field(
        default_factory=lambda: str(uuid.uuid4()),
        description="Unique per source; consumers ignore a second delivery of the same id.",
    )
    source: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="URI-reference of the system that produced the event, e.g. /crm/acme or urn:web:landing."
    )
    type: str = Field(description="Event type, fixed per topic, e.g. telesales.leads.received.v1.")
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: Annotated[str, StringConstraints(max_length=500)] | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    tenantid: TenantId = DEFAULT_TENANT
    data: DataT

    def to_json_bytes(self) -> bytes:
        # Optional envelope attributes are left out when unset (CloudEvents has no null attributes);
        # null data fields stay, as their schemas say.
        return self.model_dump_json(exclude={"subject"} if self.subject is None else None).encode()


def event_type_for(topic: str) -> str:
    """CloudEvents `type` of the events on a topic: the topic name under the platform prefix."""
    return f"telesales.{topic}"


def envelope_fields(event: CloudEvent[Any]) -> dict[str, Any]:
    """The envelope attributes without the data, for logs and dead-letter records."""
    return event.model_dump(mode="json", exclude={"data"}, exclude_none=True)
