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


class UnmaskBudgetExceeded(BaseModel):
    """A user went past the budget of full phone numbers and names per hour (the usual sign of a list being
    copied out): further answers that hour show them masked. Announced once per user and hour, for the
    user's supervisors and the security team."""

    model_config = ConfigDict(extra="ignore")

    user_id: str = Field(description="Who asked (the token's sub).")
    team_id: str | None = Field(description="The user's team (the token's, else the roster's).")
    supervisors: list[str] = Field(default_factory=list, description="Who is told besides the user: the active "
                                   "supervisors of the user's team and the user's own supervisor.")
    roles: list[str] = Field(default_factory=list, description="The user's roles.")
    hour: str = Field(description="The UTC hour counted, e.g. 2026-12-07T03.")
    count: int = Field(ge=0, description="Full leads asked for this hour, the refused answer included.")
    budget: int = Field(ge=0, description="Full leads allowed per hour.")
    service: str = Field(description="The service that refused to unmask.")
    route: str = Field(description="The route of the refused answer (method and template).")
