"""Platform-level events that belong to no business domain."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DeadLetter(BaseModel):
    """A message a consumer could not process: kept whole so it can be inspected and replayed."""

    model_config = ConfigDict(extra="ignore")

    original_topic: str
    partition: int | None = None
    offset: int | None = None
    key_b64: str | None = None
    consumer_group: str
    service: str
    error_type: str = Field(description="schema_error, json_error, processing_error, ...")
    error: str = Field(description="Human-readable reason, e.g. the pydantic validation errors.")
    payload_b64: str = Field(description="The original bytes, base64.")
    payload_text: str | None = Field(default=None, description="The original bytes as UTF-8, when they decode.")
    headers: dict[str, str] = Field(default_factory=dict, description="Original headers (values base64).")
