"""Unit tests (no I/O): what each consumed event tells which user, and the parts of the live channel that
decide what a stream writes."""

from __future__ import annotations

from typing import Any

import pytest

from console.notifications import (
    SOURCE_TOPICS,
    Draft,
    NotificationKind,
    Step,
    StreamCursor,
    drafts_of,
    parse_last_event_id,
    sse_event,
)
from telesales_contracts import BY_NAME
from telesales_testkit.harness import cloudevent

AT = "2026-11-24T09:30:00+08:00"
HOLDER = {"lead_id": "L-9", "agent_id": "zhang-san", "team_id": "team-1", "agent_grade": "B",
          "business_line": "car-insurance", "pool_id": "pool-1", "score": 80, "lead_grade": "A", "at": AT}
PURCHASE = {"purchase_id": "p-1", "transfer_id": "tr-1", "attempt": 1, "buyer_id": "li-si", "seller_id": "wang-wu",
            "tip_id": "tip-7", "version": 2, "price": 30}
ANSWER = {"transfer_id": "tr-1", "buyer_id": "li-si", "seller_id": "wang-wu", "tip_id": "tip-7", "price": 30,
          "request_event_id": "req-1"}


def drafts(topic: str, data: dict[str, Any], tenant: str = "acme", event_id: str = "ev-1") -> list[Draft]:
    event = BY_NAME[topic].parse(cloudevent(topic, tenant, data, event_id=event_id, time=AT))
    return drafts_of(topic, event)


def one(topic: str, data: dict[str, Any]) -> Draft:
    made = drafts(topic, data)
    assert len(made) == 1
    return made[0]


def test_a_hot_lead_tells_its_agent_the_signal_and_links_to_the_lead() -> None:
    draft = one("allocation.hot-lead.v1", {"lead_id": "L-9", "agent_id": "zhang-san", "routed": "holder",
                                           "kind": "unpaid_order", "detail": "订单未支付", "occurred_at": AT,
                                           "signal_event_id": "s-1"})
    assert (draft.tenant, draft.user, draft.kind, draft.link) == ("acme", "zhang-san", NotificationKind.HOT_LEAD,
                                                                  "/leads/L-9")
    assert draft.subject == {"lead_id": "L-9", "signal_kind": "unpaid_order", "detail": "订单未支付",
                             "routed": "holder", "occurred_at": "2026-11-24T09:30:00+08:00"}
    assert draft.at.isoformat() == "2026-11-24T09:30:00+08:00"


def test_a_reclaim_warning_says_when_and_why() -> None:
    draft = one("allocation.reclaim-warning.v1", {"lead_id": "L-9", "agent_id": "zhang-san",
                                                  "kind": "not_processed", "reclaim_at": "2026-11-26T09:00:00+08:00",
                                                  "stage_percent": 10})
    assert (draft.user, draft.kind, draft.link) == ("zhang-san", NotificationKind.RECLAIM_WARNING, "/leads/L-9")
    assert draft.subject == {"lead_id": "L-9", "reclaim_kind": "not_processed",
                             "reclaim_at": "2026-11-26T09:00:00+08:00", "stage_percent": 10}


def test_an_assigned_lead_and_a_reclaimed_lead_go_to_the_agent() -> None:
    assigned = one("allocation.assigned.v1", HOLDER | {"strategy": "round_robin", "assigned_by": "system"})
    assert (assigned.user, assigned.kind, assigned.link) == ("zhang-san", NotificationKind.LEAD_ASSIGNED,
                                                             "/leads/L-9")
    assert assigned.subject["lead_grade"] == "A" and assigned.subject["strategy"] == "round_robin"
    assert assigned.subject["applied"] is False  # a push, not the agent's own application
    served = one("allocation.assigned.v1", HOLDER | {"strategy": "round_robin", "assigned_by": "zhang-san"})
    assert served.subject["applied"] is True  # 轮询申领: the agent's application was served
    reclaimed = one("allocation.reclaimed.v1", HOLDER | {"kind": "not_converted", "stage_percent": 30,
                                                         "deadline": AT, "drop_count": 1})
    assert (reclaimed.user, reclaimed.kind) == ("zhang-san", NotificationKind.LEAD_RECLAIMED)
    assert reclaimed.link == "/leads"  # no longer theirs to open
    assert reclaimed.subject["lead_id"] == "L-9" and reclaimed.subject["reclaim_kind"] == "not_converted"


def test_a_lead_closed_for_do_not_call_tells_its_holder_and_one_the_agent_closed_tells_nobody() -> None:
    listed = one("allocation.closed.v1", HOLDER | {"reason": "do-not-call: complaint: rude", "do_not_call": True})
    assert (listed.user, listed.kind, listed.link) == ("zhang-san", NotificationKind.LEAD_DO_NOT_CALL, "/leads")
    assert listed.subject == {"lead_id": "L-9", "reason": "do-not-call: complaint: rude",
                              "business_line": "car-insurance"}
    assert drafts("allocation.closed.v1", HOLDER | {"reason": "no need"}) == []  # the agent's own 关单


def test_purchases_granted_and_refused_tell_the_buyer() -> None:
    granted = one("marketplace.purchase-completed.v1", PURCHASE | {"seller_amount": 27, "completed_at": AT})
    assert (granted.user, granted.kind, granted.link) == ("li-si", NotificationKind.PURCHASE_GRANTED, "/tips/tip-7")
    assert granted.subject == {"tip_id": "tip-7", "purchase_id": "p-1", "version": 2, "price": 30}
    refused = one("marketplace.purchase-refused.v1", PURCHASE | {
        "reason": "daily_limit", "limit": "buyer_daily_count", "limit_value": 5, "message": "今日购买已达上限",
        "refused_at": AT})
    assert (refused.user, refused.kind) == ("li-si", NotificationKind.PURCHASE_REFUSED)
    assert refused.subject == {"tip_id": "tip-7", "purchase_id": "p-1", "price": 30, "reason": "daily_limit",
                                    "limit": "buyer_daily_count", "limit_value": 5, "message": "今日购买已达上限"}


def test_recommended_and_forwarded_tips() -> None:
    tip = {"tip_id": "tip-7", "version": 1, "title": "报价三步法", "price": 30, "rating": 4.5, "ratings": 8}
    recommended = one("marketplace.struggle-recommended.v1", {
        "recommendation_id": "r-1", "agent_id": "zhang-san", "step": "intent", "agent_rate": 0.1, "team_rate": 0.3,
        "gap": 0.2, "stage": "quoting", "tips": [tip], "recommended_at": AT})
    assert (recommended.user, recommended.kind, recommended.link) == ("zhang-san", NotificationKind.TIP_RECOMMENDED,
                                                                      "/tips/tip-7")
    assert recommended.subject["tips"] == [{"tip_id": "tip-7", "title": "报价三步法", "price": 30, "rating": 4.5}]
    assert recommended.subject["step"] == "intent" and recommended.subject["stage"] == "quoting"
    several = one("marketplace.struggle-recommended.v1", {
        "recommendation_id": "r-2", "agent_id": "zhang-san", "step": "intent", "agent_rate": 0.1, "team_rate": 0.3,
        "gap": 0.2, "stage": "quoting", "tips": [tip, tip | {"tip_id": "tip-8"}], "recommended_at": AT})
    assert several.link == "/tips"
    # pushed after a call that ended at an objection: a stage, no funnel step nor rates
    pushed = one("marketplace.struggle-recommended.v1", {
        "recommendation_id": "r-3", "agent_id": "zhang-san", "trigger": "call", "trigger_id": "ev-1",
        "stage": "objection_handling", "tips": [tip], "recommended_at": AT})
    assert (pushed.user, pushed.kind, pushed.link) == ("zhang-san", NotificationKind.TIP_RECOMMENDED, "/tips/tip-7")
    assert (pushed.subject["trigger"], pushed.subject["step"], pushed.subject["stage"]) == (
        "call", None, "objection_handling")
    forwarded = one("marketplace.tip-forwarded.v1", {"from_user_id": "wang-wu", "to_user_id": "li-si",
                                                     "tip_id": "tip-7", "note": "看看这个", "forwarded_at": AT})
    assert (forwarded.user, forwarded.kind, forwarded.link) == ("li-si", NotificationKind.TIP_FORWARDED, "/tips/tip-7")
    assert forwarded.subject == {"tip_id": "tip-7", "from_user_id": "wang-wu", "note": "看看这个"}


def test_coins_received_from_an_allocation_a_bonus_and_a_sale() -> None:
    allocated = one("ledger.coins-allocated.v1", {"allocation_id": "a-1", "transfer_id": "tr-2", "user_id": "li-si",
                                                  "amount": 100, "selection": "users", "allocated_by": "op-1",
                                                  "allocated_at": AT})
    assert (allocated.user, allocated.kind, allocated.link) == ("li-si", NotificationKind.COINS_RECEIVED, "/wallet")
    assert allocated.subject["source"] == "allocation" and allocated.subject["amount"] == 100
    bonus = drafts("ledger.bonus-awarded.v1", {
        "draw_id": "d-1", "seed": "s", "algorithm": "uniform", "min_amount": 1, "max_amount": 10, "total": 12,
        "drawn_by": "op-1", "drawn_at": AT, "awards": [{"user_id": "li-si", "amount": 5, "transfer_id": "t-a"},
                                                       {"user_id": "wang-wu", "amount": 3, "transfer_id": "t-b"},
                                                       {"user_id": "li-si", "amount": 4, "transfer_id": "t-c"}]})
    assert [(d.user, d.part, d.subject["amount"]) for d in bonus] == [("li-si", 0, 5), ("wang-wu", 1, 3),
                                                                     ("li-si", 2, 4)]
    assert len({d.id for d in bonus}) == 3  # one award each, even twice to one user
    posted = ANSWER | {"seller_amount": 27, "platform_amount": 3, "buyer_balance": 70, "day": "2026-11-24",
                       "posted_at": AT}
    sale = one("ledger.transfer-posted.v1", posted)
    assert (sale.user, sale.kind, sale.subject["source"], sale.subject["amount"]) == (
        "wang-wu", NotificationKind.COINS_RECEIVED, "sale", 27)
    assert drafts("ledger.transfer-posted.v1", posted | {"repeat": True}) == []
    assert drafts("ledger.transfer-posted.v1", posted | {"seller_amount": 0, "platform_amount": 30}) == []


def test_an_approval_decided_tells_the_requester() -> None:
    draft = one("ledger.reallocation-decided.v1", {"request_id": "rq-1", "user_id": "li-si", "decision": "rejected",
                                                   "decided_by": "op-1", "reason": "预算不足", "decided_at": AT})
    assert (draft.user, draft.kind, draft.link) == ("li-si", NotificationKind.APPROVAL_DECIDED, "/wallet")
    assert draft.subject == {"request_id": "rq-1", "decision": "rejected", "amount": None, "reason": "预算不足",
                             "decided_by": "op-1"}


def test_a_deal_mark_request_tells_each_supervisor_who_may_decide_and_the_decision_tells_the_holder() -> None:
    made = drafts("allocation.deal-mark-requested.v1", {
        "lead_id": "L-9", "request_id": "r-1", "agent_id": "zhang-san", "team_id": "team-1",
        "business_line": "car-insurance", "supervisors": ["s-1", "s-2"], "note": "签约中", "requested_at": AT})
    assert [(d.user, d.kind, d.link, d.part) for d in made] == [
        ("s-1", NotificationKind.DEAL_MARK_REQUESTED, "/leads/L-9", 0),
        ("s-2", NotificationKind.DEAL_MARK_REQUESTED, "/leads/L-9", 0)]
    assert made[0].subject == {"lead_id": "L-9", "request_id": "r-1", "agent_id": "zhang-san", "note": "签约中"}
    assert drafts("allocation.deal-mark-requested.v1", {
        "lead_id": "L-9", "request_id": "r-1", "agent_id": "zhang-san", "team_id": None,
        "business_line": "car-insurance", "supervisors": [], "requested_at": AT}) == []
    draft = one("allocation.deal-mark-decided.v1", {
        "lead_id": "L-9", "request_id": "r-1", "agent_id": "zhang-san", "decision": "approved", "decided_by": "s-1",
        "reason": None, "expires_at": AT, "decided_at": AT})
    assert (draft.user, draft.kind, draft.link) == ("zhang-san", NotificationKind.DEAL_MARK_DECIDED, "/leads/L-9")
    assert draft.subject == {"lead_id": "L-9", "request_id": "r-1", "decision": "approved", "decided_by": "s-1",
                             "reason": None, "expires_at": "2026-11-24T09:30:00+08:00"}
def test_a_confirmed_win_tells_the_agent_who_won_it() -> None:
    draft = one("allocation.win-confirmed.v1", {
        "lead_id": "L-9", "agent_id": "zhang-san", "team_id": "team-1", "business_line": "car-insurance",
        "amount_fen": 600_000, "declared_amount_fen": 900_000, "confirmed_by": "order", "confirmer": "/crm/x",
        "order_ref": "SO-7", "won_at": AT, "confirmed_at": AT})
    assert (draft.user, draft.kind, draft.link) == ("zhang-san", NotificationKind.WIN_CONFIRMED, "/leads/L-9")
    assert draft.subject == {"lead_id": "L-9", "amount_fen": 600_000, "confirmed_by": "order", "confirmer": "/crm/x",
                             "order_ref": "SO-7"}


def test_a_rejected_win_tells_the_agent_why_and_leads_to_the_lead_it_holds_again() -> None:
    draft = one("allocation.win-rejected.v1", {
        "lead_id": "L-9", "agent_id": "zhang-san", "team_id": "team-1", "business_line": "car-insurance",
        "pool_id": "car-insurance", "declared_amount_fen": 900_000, "won_at": AT, "rejected_by": "order",
        "rejecter": "crm", "reason": "crm says the order was lost", "order_ref": "SO-7", "rejected_at": AT})
    assert (draft.user, draft.kind, draft.link) == ("zhang-san", NotificationKind.WIN_REJECTED, "/leads/L-9")
    assert draft.subject == {"lead_id": "L-9", "declared_amount_fen": 900_000, "rejected_by": "order",
                             "rejecter": "crm", "reason": "crm says the order was lost", "order_ref": "SO-7"}


def test_a_user_past_the_unmask_budget_is_told_why_and_its_supervisors_are_warned() -> None:
    made = drafts("security.unmask-budget-exceeded.v1", {
        "user_id": "zhang-san", "team_id": "team-1", "supervisors": ["sup-1", "zhang-san", "sup-2", "sup-1"],
        "roles": ["agent"], "hour": "2026-11-24T01", "count": 201, "budget": 200, "service": "allocator",
        "route": "GET /v1/agents/{agent_id}/leads"})
    assert [(d.user, d.kind, d.subject["for"], d.link) for d in made] == [
        ("zhang-san", NotificationKind.UNMASK_BUDGET_EXCEEDED, "user", "/leads"),
        ("sup-1", NotificationKind.UNMASK_BUDGET_EXCEEDED, "supervisor", "/team"),
        ("sup-2", NotificationKind.UNMASK_BUDGET_EXCEEDED, "supervisor", "/team")]
    assert made[1].subject == {"user_id": "zhang-san", "team_id": "team-1", "hour": "2026-11-24T01", "count": 201,
                               "budget": 200, "service": "allocator", "for": "supervisor"}
    assert len({d.id for d in made}) == 3


def test_an_approval_waiting_asks_the_approvers_of_the_level_and_tells_the_requester() -> None:
    made = drafts("ledger.reallocation-awaiting.v1", {
        "request_id": "rq-1", "user_id": "li-si", "team_id": "t1", "level": "manager",
        "levels": ["supervisor", "manager"], "approvals": [{"level": "supervisor", "approved_by": "s1",
                                                            "approved_at": AT}],
        "approvers": ["m1", "m2", "m1"], "requested_by": "li-si", "at": AT})
    assert [(d.user, d.kind, d.subject["for"], d.part) for d in made] == [
        ("m1", NotificationKind.APPROVAL_WAITING, "approver", 0), ("m2", NotificationKind.APPROVAL_WAITING, "approver", 1),
        ("li-si", NotificationKind.APPROVAL_WAITING, "requester", 2)]
    assert made[0].subject | {"for": None} == {"request_id": "rq-1", "user_id": "li-si", "team_id": "t1",
                                               "level": "manager", "approvals": 1, "levels": 2, "for": None}


def test_every_consumed_topic_has_a_mapping_and_ids_depend_on_tenant_user_event_and_part() -> None:
    assert {t.name for t in SOURCE_TOPICS} == {
        "allocation.hot-lead.v1", "allocation.reclaim-warning.v1", "allocation.assigned.v1", "allocation.reclaimed.v1",
        "allocation.closed.v1", "marketplace.purchase-completed.v1", "marketplace.purchase-refused.v1",
        "marketplace.struggle-recommended.v1", "marketplace.tip-forwarded.v1", "ledger.coins-allocated.v1",
        "ledger.bonus-awarded.v1", "ledger.transfer-posted.v1", "ledger.reallocation-decided.v1",
        "allocation.deal-mark-requested.v1", "allocation.deal-mark-decided.v1", "ledger.reallocation-awaiting.v1",
        "allocation.win-confirmed.v1", "allocation.win-rejected.v1", "security.unmask-budget-exceeded.v1"}
    data = {"request_id": "rq-1", "user_id": "li-si", "decision": "approved", "decided_by": "op-1",
            "decided_at": AT}
    first = drafts("ledger.reallocation-decided.v1", data)[0]
    again = drafts("ledger.reallocation-decided.v1", data)[0]
    other_tenant = drafts("ledger.reallocation-decided.v1", data, tenant="globex")[0]
    other_event = drafts("ledger.reallocation-decided.v1", data, event_id="ev-2")[0]
    assert first.id == again.id
    assert len({first.id, other_tenant.id, other_event.id}) == 3


@pytest.mark.parametrize(("last", "seq", "step"), [
    (0, 1, Step.SEND), (4, 5, Step.SEND), (4, 4, Step.SKIP), (4, 2, Step.SKIP), (4, 6, Step.FILL_GAP),
    (0, 3, Step.FILL_GAP)])
def test_the_cursor_sends_the_next_skips_the_sent_and_fills_gaps(last: int, seq: int, step: Step) -> None:
    assert StreamCursor(last).step(seq) is step


def test_the_cursor_only_moves_forward() -> None:
    cursor = StreamCursor(5)
    cursor.advance(3)
    assert cursor.last == 5
    cursor.advance(7)
    assert cursor.last == 7


def test_sse_framing_and_last_event_ids() -> None:
    assert sse_event(12, '{"a":1}') == b'id: 12\nevent: notification\ndata: {"a":1}\n\n'
    assert parse_last_event_id(" 42 ") == 42
    assert parse_last_event_id(None) is None
    assert parse_last_event_id("-1") is None
    assert parse_last_event_id("abc") is None
    assert parse_last_event_id("9" * 30) is None
