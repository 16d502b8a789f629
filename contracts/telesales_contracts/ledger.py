"""Events of the ledger, which owns every coin (学呗金) of the tips marketplace: purchase requests from
the marketplace and their answers, allocations by operators (配置), idle coins taken back (回收),
redemptions in the points mall (兑换), blind-box bonuses, and transfers made over its HTTP API.

Amounts are whole coins (integers). 100 coins redeem for 1 yuan; yuan amounts are in fen."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .roster import AgentGrade, Identifier, Role

# Chosen by the client; the ledger's own derived ids add a "/" (which a client id cannot contain).
TransferId = Annotated[str, StringConstraints(min_length=1, max_length=128,
                                              pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]


class TransferRequested(BaseModel):
    """The marketplace asks the ledger to pay for a tip (锦囊): the buyer's coins go to the seller, less
    the platform's share. Key the Kafka record by `buyer_id`, so that one buyer's requests are decided
    in the order they were made. `transfer_id` is the idempotency key: a repeat (even under another
    event id) is answered with the first result; the same id with other content is refused."""

    model_config = ConfigDict(extra="forbid")

    transfer_id: TransferId
    buyer_id: Identifier
    seller_id: Identifier
    tip_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    price: int = Field(gt=0, le=1_000_000, description="Price of the tip in coins.")


class PurchaseRejection(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"  # the buyer's wallet holds less than the price
    DAILY_LIMIT = "daily_limit"  # a limit against fake purchases (刷单) was reached: see `limit`
    SELF_PURCHASE = "self_purchase"  # buyer and seller are the same person
    TRANSFER_ID_CONFLICT = "transfer_id_conflict"  # the id was used before for another purchase


class DailyLimit(StrEnum):
    BUYER_COUNT = "buyer_daily_count"  # purchases per buyer per day
    BUYER_COINS = "buyer_daily_coins"  # coins spent per buyer per day
    PAIR_COUNT = "pair_daily_count"  # purchases per buyer from one seller per day
    PAIR_COINS = "pair_daily_coins"  # coins per buyer to one seller per day


class PurchaseAnswer(BaseModel):
    """What both answers to a purchase request say."""

    model_config = ConfigDict(extra="ignore")

    transfer_id: str
    buyer_id: str
    seller_id: str
    tip_id: str
    price: int = Field(gt=0)
    request_event_id: str = Field(description="The id of the ledger.transfer-requested.v1 event answered.")
    repeat: bool = Field(default=False, description="True when this answers a repeated request for a transfer "
                         "decided before: nothing moved again; the first decision stands.")


class TransferPosted(PurchaseAnswer):
    """A purchase was paid: the price left the buyer's wallet (held, then posted in one transaction) and
    reached the seller's earnings, less the platform's share (back to the operators' budget)."""

    seller_amount: int = Field(ge=0)
    platform_amount: int = Field(ge=0)
    buyer_balance: int = Field(ge=0, description="The buyer's wallet right after this purchase.")
    day: str = Field(description="Business day (ISO date, the ledger's time zone) the daily limits counted it in.")
    posted_at: datetime


class TransferRejected(PurchaseAnswer):
    """A purchase was refused; nothing moved."""

    reason: PurchaseRejection
    limit: DailyLimit | None = Field(default=None, description="The daily limit reached (reason daily_limit).")
    limit_value: int | None = Field(default=None, description="That limit's configured value.")
    message: str
    rejected_at: datetime


class AllocationSelection(StrEnum):
    USERS = "users"  # named one by one
    ROSTER = "roster"  # in bulk by role, grade, team or line
    APPROVAL = "approval"  # an approved request to get coins again after a reclaim


class CoinsAllocated(BaseModel):
    """Operators granted coins from their budget to a user's wallet (配置)."""

    model_config = ConfigDict(extra="ignore")

    allocation_id: str
    transfer_id: str
    user_id: str
    amount: int = Field(gt=0)
    selection: AllocationSelection
    role: Role | None = Field(default=None, description="The user's role on the roster, when known.")
    grade: AgentGrade | None = Field(default=None, description="The user's grade, when known.")
    allocated_by: str
    note: str | None = None
    allocated_at: datetime


class CoinsReclaimed(BaseModel):
    """A wallet whose holder learned nothing for `idle_days` went back to the budget (不学回收: spending does
    not keep coins, learning does); the user needs an approved request to get coins again.
    `last_activity_at`: the holder's last learning, or when the wallet opened (or an approval reopened it)."""

    model_config = ConfigDict(extra="ignore")

    transfer_id: str
    user_id: str
    amount: int = Field(gt=0)
    last_activity_at: datetime
    idle_days: int = Field(ge=1)
    reclaimed_at: datetime


class CoinsRedeemed(BaseModel):
    """A seller converted earnings in the points mall (100 coins = 1 yuan, whole yuan only)."""

    model_config = ConfigDict(extra="ignore")

    transfer_id: str
    user_id: str
    coins: int = Field(gt=0)
    yuan_fen: int = Field(gt=0, description="The yuan value, in fen.")
    item: str | None = None
    redeemed_by: str
    redeemed_at: datetime


class BonusAward(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str
    amount: int = Field(gt=0)
    transfer_id: str


class BonusAwarded(BaseModel):
    """A blind-box draw: random bonuses from the bonus pool to top contributors. `seed` and `algorithm`
    let anyone replay the draw and check every amount."""

    model_config = ConfigDict(extra="ignore")

    draw_id: str
    seed: str
    algorithm: str
    min_amount: int = Field(gt=0)
    max_amount: int = Field(gt=0)
    awards: list[BonusAward]
    total: int = Field(ge=0)
    drawn_by: str
    drawn_at: datetime


class TransferState(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


class TransferRecorded(BaseModel):
    """A transfer made over the ledger's HTTP API: a direct transfer, an issue of coins into the
    budget, a hold (pending), or a leg that posted, released or voided a hold."""

    model_config = ConfigDict(extra="ignore")

    transfer_id: str
    kind: str
    state: TransferState
    debit_account: str
    credit_account: str
    amount: int = Field(gt=0)
    hold_id: str | None = Field(default=None, description="The hold this leg posted, released or voided.")
    linked_group: str | None = Field(default=None, description="Transfers of a group succeeded together.")
    expires_at: datetime | None = Field(default=None, description="When a pending hold voids itself.")
    by: str
    at: datetime


class ApprovalLevel(StrEnum):
    """A level of the reallocation approval chain (层层审批): the roster's supervisor or manager, or an operator."""

    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    OPERATOR = "operator"


class ReallocationApproval(BaseModel):
    model_config = ConfigDict(extra="ignore")

    level: ApprovalLevel
    approved_by: str
    approved_at: datetime


class ReallocationAwaiting(BaseModel):
    """A request to get coins again after a reclaim waits for an approval at `level` (after it was made, or
    after the level before approved it). `approvers`: who may approve at that level, as the ledger's roster
    knows them (the user's team's supervisors, the managers); empty for operators or when nobody is known."""

    model_config = ConfigDict(extra="ignore")

    request_id: str
    user_id: str
    team_id: str | None = None
    level: ApprovalLevel
    levels: list[ApprovalLevel] = Field(description="The whole chain, in order.")
    approvals: list[ReallocationApproval] = Field(description="The approvals given so far, in order.")
    approvers: list[str] = Field(default_factory=list)
    requested_by: str
    at: datetime


class ReallocationDecided(BaseModel):
    """A request to get coins again after a reclaim was approved (by the last level of the chain) or
    rejected."""

    model_config = ConfigDict(extra="ignore")

    request_id: str
    user_id: str
    decision: Literal["approved", "rejected"]
    amount: int | None = Field(default=None, description="Coins allocated with the approval, if any.")
    allocation_id: str | None = None
    decided_by: str
    reason: str | None = None
    decided_at: datetime
