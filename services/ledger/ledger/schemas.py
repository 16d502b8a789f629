"""HTTP request and response bodies of the ledger (event payloads live in contracts/)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from telesales_contracts.ledger import ApprovalLevel, TransferId
from telesales_contracts.roster import AgentGrade, Identifier, Role

from .domain import MAX_AMOUNT

AccountKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Amount = Annotated[int, Field(gt=0, le=MAX_AMOUNT, description="Whole coins.")]
Note = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class TransferIn(BaseModel):
    """A transfer between wallets, earnings, the budget and the bonus pool. With `pending`, the amount is
    held (in the debit account's escrow) until posted, voided, or its timeout voids it."""

    model_config = ConfigDict(extra="forbid")

    id: TransferId = Field(description="Chosen by the client: a retry returns the first result; the same id with "
                           "other content is refused (409 transfer_id_conflict).")
    debit: AccountKey = Field(description="budget, bonus-pool, wallet:<user> or earnings:<user>")
    credit: AccountKey
    amount: Amount
    kind: Literal["transfer", "adjustment"] = "transfer"
    pending: bool = False
    timeout_seconds: int | None = Field(default=None, ge=1, le=7 * 86400, description="Life of a pending transfer "
                                        "(the tenant's hold_timeout_seconds when unset).")
    note: Note | None = None

    @model_validator(mode="after")
    def _timeout_only_when_pending(self) -> TransferIn:
        if self.timeout_seconds is not None and not self.pending:
            raise ValueError("timeout_seconds goes with pending transfers only")
        return self


class LinkedTransfersIn(BaseModel):
    """Transfers that succeed or fail together (in order: a later one may spend what an earlier one credited)."""

    model_config = ConfigDict(extra="forbid")

    transfers: list[TransferIn] = Field(min_length=1, max_length=100)


class IssueIn(BaseModel):
    """New coins into the operators' budget."""

    model_config = ConfigDict(extra="forbid")

    id: TransferId
    amount: Amount
    note: Note | None = None


class PostHoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Amount | None = Field(default=None, description="Post part of the hold (the rest is released); "
                                  "all of it when unset.")


class TransferView(BaseModel):
    transfer_id: str
    kind: str
    state: str
    debit: str | None
    credit: str | None
    amount: int
    target: str | None = Field(default=None, description="Where a hold goes when posted.")
    expires_at: datetime | None = None
    posted_amount: int | None = None
    void_reason: str | None = None
    linked_group: str | None = None
    hold_id: str | None = None
    created_at: datetime
    posted_at: datetime | None = None
    voided_at: datetime | None = None
    by: str | None = None
    note: str | None = None
    purchase: dict[str, Any] | None = None
    redemption: dict[str, Any] | None = None


class LinkedTransfersView(BaseModel):
    transfers: list[TransferView]


class AccountView(BaseModel):
    account: str
    kind: str
    owner: str | None
    balance: int
    allow_negative: bool
    allocation_blocked: bool = Field(description="Coins were reclaimed: allocations need an approved request.")
    last_activity_at: datetime | None = Field(default=None, description="A wallet's reclaim clock: its holder's last "
                                              "learning, or when it opened or an approval reopened it (不学回收).")
    reclaimed_at: datetime | None = None
    exists: bool = Field(description="False for an account never written (it holds 0).")


class AccountPage(BaseModel):
    items: list[AccountView]
    next_cursor: str | None


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_negative: bool


class StatementLine(BaseModel):
    at: datetime
    transfer_id: str
    kind: str
    state: str
    direction: Literal["debit", "credit"]
    amount: int
    signed_amount: int
    counterparty: str
    linked_group: str | None
    hold_id: str | None
    reference: str | None = Field(description="The tip bought, the item redeemed.")
    note: str | None
    by: str | None


class StatementPage(BaseModel):
    account: str
    balance: int = Field(description="The balance now.")
    items: list[StatementLine]
    next_cursor: str | None


class AllocationIn(BaseModel):
    """Coins from the budget to each user named in `user_ids`, or to every active user of the roster with
    one of `roles` (agents when unset) and, if given, one of `grades`, in `team_id` and `business_line`."""

    model_config = ConfigDict(extra="forbid")

    id: TransferId
    amount: Amount = Field(description="Coins per user.")
    user_ids: list[Identifier] | None = Field(default=None, min_length=1, max_length=20_000)
    roles: list[Role] | None = Field(default=None, min_length=1)
    grades: list[AgentGrade] | None = Field(default=None, min_length=1)
    team_id: Identifier | None = None
    business_line: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _users_or_roster(self) -> AllocationIn:
        roster = any(v is not None for v in (self.roles, self.grades, self.team_id, self.business_line))
        if self.user_ids is not None and roster:
            raise ValueError("name users, or select them from the roster, not both")
        return self


class Allocated(BaseModel):
    user_id: str
    transfer_id: str


class Skipped(BaseModel):
    user_id: str
    reason: str


class AllocationView(BaseModel):
    allocation_id: str
    amount: int
    selection: str
    filter: dict[str, Any] | None
    allocated: list[Allocated]
    skipped: list[Skipped]
    total: int
    by: str
    note: str | None
    created_at: datetime


class ReallocationRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Identifier
    reason: Note


class ReallocationDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Amount | None = Field(default=None, description="Approvals only: coins allocated with it.")
    reason: Note | None = None


class ApprovalView(BaseModel):
    level: ApprovalLevel
    approved_by: str
    approved_at: datetime


class ReallocationRequestView(BaseModel):
    request_id: str
    user_id: str
    team_id: str | None = None
    reason: str
    status: Literal["pending", "approved", "rejected"]
    requested_by: str
    requested_at: datetime
    levels: list[ApprovalLevel] = Field(default=[ApprovalLevel.OPERATOR], description="The approval chain, in "
                                        "order (层层审批).")
    approvals: list[ApprovalView] = Field(default=[], description="The approvals given, in order.")
    qualification: dict[str, int] | None = Field(default=None, description="The conditions (资格条件) the request "
                                                 "was made under: learning since the reclaim.")
    decided_by: str | None = None
    decided_level: ApprovalLevel | None = None
    decided_at: datetime | None = None
    amount: int | None = None
    allocation_id: str | None = None
    decision_reason: str | None = None


class RedemptionIn(BaseModel):
    """A seller's earnings converted in the points mall: give `yuan`, or `coins` (a multiple of 100)."""

    model_config = ConfigDict(extra="forbid")

    id: TransferId
    user_id: Identifier
    coins: Amount | None = None
    yuan: int | None = Field(default=None, ge=1, le=MAX_AMOUNT // 100)
    item: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class RedemptionView(BaseModel):
    transfer_id: str
    user_id: str
    coins: int
    yuan_fen: int
    item: str | None
    by: str
    created_at: datetime


class BlindBoxIn(BaseModel):
    """Random bonuses from the bonus pool: to `user_ids`, or to the `top` sellers by coins earned from
    purchases in [since, until) (the last 30 days by default)."""

    model_config = ConfigDict(extra="forbid")

    id: TransferId
    min_amount: Amount
    max_amount: Amount
    user_ids: list[Identifier] | None = Field(default=None, min_length=1, max_length=1000)
    top: int | None = Field(default=None, ge=1, le=1000)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    seed: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="Drawn at random when unset; recorded either way.")


class Award(BaseModel):
    user_id: str
    amount: int
    transfer_id: str | None = None


class BlindBoxView(BaseModel):
    draw_id: str
    seed: str
    algorithm: str
    recipients: list[str]
    min_amount: int
    max_amount: int
    awards: list[Award]
    total: int
    by: str
    created_at: datetime


class BlindBoxReplay(BaseModel):
    draw_id: str
    seed: str
    algorithm: str
    matches: bool = Field(description="The recorded amounts are exactly those the seed gives.")
    recorded: list[Award]
    replayed: list[Award]


class ReclaimedWallet(BaseModel):
    user_id: str
    amount: int
    transfer_id: str
    last_activity_at: datetime


class ReclaimRun(BaseModel):
    reclaimed: list[ReclaimedWallet]
    total: int


class HoldSweep(BaseModel):
    voided: int


class AuditView(BaseModel):
    accounts: int
    sum_of_balances: int = Field(description="Zero when coins are conserved.")
    conserved: bool
    negative_accounts: list[dict[str, Any]] = Field(description="Accounts below zero that may not be.")
    journal_checked: bool
    journal_mismatches: list[dict[str, Any]] = Field(description="Accounts whose balance differs from the sum of "
                                                     "their transfers (verify=true).")
    ok: bool


class ConfigView(BaseModel):
    version: int
    value: dict[str, Any]


class UserView(BaseModel):
    user_id: str
    name: str | None = None
    role: str | None = None
    grade: str | None = None
    team_id: str | None = None
    business_line: str | None = None
    active: bool | None = None
    on_roster: bool
    wallet: int
    earnings: int
    allocation_blocked: bool


class TopSeller(BaseModel):
    user_id: str
    coins: int
