"""The floor's figures as the metrics service reports them (GET /v1/funnels/...), read for one tenant and
a range of days, and printed as tables; and the floor's rules as the day met them (struggle pushes and what
the agents made of them, do-not-call listings and their leads, dials refused by reason)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from .platform import Api

FUNNELS = ("leads", "calls", "pool", "marketplace")
LEAD_STEP_NAMES = {"total": "total 总量", "valid": "valid contact 有效", "intent": "intent 意向",
                   "agreed_visit": "agreed visit 约访", "actual_visit": "visited 到访", "plan": "plan 方案",
                   "paid": "paid 成交"}
CALL_FIELDS = (("outbound", "dials 外呼"), ("connected", "connected 接通"), ("effective", "effective ≥60 s 有效沟通"),
               ("deep", "deep ≥180 s 深度沟通"), ("multi_effective_leads", "leads with ≥2 effective calls"),
               ("talk_seconds", "talk time (s)"), ("connect_rate", "connect rate"), ("effective_rate", "effective rate"),
               ("avg_talk_seconds", "avg talk (s)"), ("first_calls", "first calls after a claim"))
POOL_FIELDS = (("created", "pooled (new leads)"), ("merged", "repeats merged"), ("claimed", "claimed 捞取"),
               ("assigned", "assigned 分配"), ("returned", "returned 退回"),
               ("reclaimed_not_processed", "reclaimed: not processed 未处理回收"),
               ("reclaimed_not_converted", "reclaimed: not converted 未转化回收"),
               ("reclaimed_dialled_without_converting", "reclaimed: dialled day after day, not converted"),
               ("reclaim_warning", "reclaim warnings"),
               ("closed", "closed 关单"), ("won", "won 成单"), ("won_amount_fen", "won amount (yuan)"),
               ("processed", "processed (an effective call by the holder)"), ("processing_rate", "processing rate"))
USER_STEP_NAMES = {"visit": "visited 浏览", "buy": "bought 购买", "learn": "learned 学习", "rate": "rated 评价",
                   "forward": "forwarded 转发"}


async def read_funnels(metrics: Api, first: str, last: str, which: Sequence[str] = FUNNELS) -> dict[str, Any]:
    """Each funnel's figures over first..last as one row (period=range); {} for a funnel with no data."""
    out: dict[str, Any] = {}
    for name in which:
        body = await metrics.get(f"/v1/funnels/{name}", params={"from": first, "to": last, "period": "range"})
        rows = body.get("rows") or []
        out[name] = rows[0] if rows else {}
    return out


def lead_steps(leads: Mapping[str, Any]) -> dict[str, int]:
    return {row["step"]: row["count"] for row in leads.get("steps") or []}


def _rate(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _value(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if name.endswith("_rate"):
        return _rate(value)
    if name == "won_amount_fen":
        return f"{value / 100:,.0f}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def funnel_table(title: str, rows: Sequence[Mapping[str, Any]], names: Mapping[str, str], unit: str,
                 first: str) -> Table:
    """A funnel's steps (metrics' step rows): count, rate from the step before and over the first step."""
    table = Table(title=title)
    for column in ("step", unit, "from previous", f"over {first}"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for row in rows:
        table.add_row(names.get(row["step"], row["step"]), f"{row['count']:,}",
                      _rate(row.get("rate_from_previous")), _rate(row.get("rate_over_total")))
    return table


def lead_table(leads: Mapping[str, Any]) -> Table:
    table = funnel_table("Lead funnel 线索漏斗", leads.get("steps") or [], LEAD_STEP_NAMES, "leads", "total")
    table.caption = (f"junk rejected at intake: {leads.get('rejected', 0):,} of the total; "
                     f"leads handed to agents: {leads.get('received', 0):,}")
    return table


def fields_table(title: str, row: Mapping[str, Any], fields: Sequence[tuple[str, str]]) -> Table:
    table = Table(title=title)
    table.add_column("indicator")
    table.add_column("value", justify="right")
    for name, label in fields:
        table.add_row(label, _value(name, row.get(name)))
    return table


def market_tables(market: Mapping[str, Any]) -> list[Table]:
    users = funnel_table("Marketplace: users 用户漏斗", market.get("users") or [], USER_STEP_NAMES, "users",
                         "visitors")
    tips = market.get("tips") or {}
    counts = market.get("counts") or {}
    detail = Table(title="Marketplace: tips and coins 锦囊与学呗")
    detail.add_column("indicator")
    detail.add_column("value", justify="right")
    for label, value in (("tips submitted / approved / rejected",
                          f"{counts.get('tips_submitted', 0)} / {counts.get('tips_approved', 0)} / "
                          f"{counts.get('tips_rejected', 0)}"),
                         ("review pass rate", _rate(tips.get("review_pass_rate"))),
                         ("purchases requested / completed / refused",
                          f"{counts.get('purchase_requests', 0)} / {counts.get('purchases', 0)} / "
                          f"{counts.get('purchases_refused', 0)}"),
                         ("purchase rate (buyers / visitors of a tip)", _rate(tips.get("purchase_rate"))),
                         ("learning rate (learned / bought)", _rate(tips.get("learning_rate"))),
                         ("forward rate (forwarded / learned)", _rate(tips.get("forward_rate"))),
                         ("rewatch rate", _rate(tips.get("rewatch_rate"))),
                         ("deep learners", f"{counts.get('deep_learners', 0)}"),
                         ("coins allocated 配置", f"{counts.get('coins_allocated', 0):,}"),
                         ("coins redeemed 兑换", f"{counts.get('coins_redeemed', 0):,}"),
                         ("daily-active rate", _rate(market.get("daily_active_rate")))):
        detail.add_row(label, value)
    return [users, detail]


def print_summary(console: Console, funnels: Mapping[str, Any]) -> None:
    if "leads" in funnels:
        console.print(lead_table(funnels["leads"]))
    if "calls" in funnels:
        console.print(fields_table("Calls 通话", funnels["calls"], CALL_FIELDS))
    if "pool" in funnels:
        console.print(fields_table("Pool operations 公海操作", funnels["pool"], POOL_FIELDS))
    if "marketplace" in funnels:
        for table in market_tables(funnels["marketplace"]):
            console.print(table)


# ---- the floor's rules during the day: struggle pushes, do-not-call, dials refused, push on arrival -------------

PUSH_STEP_NAMES = {"recommended": "recommended 推送 (metrics)", "read": "read by the agent 查看",
                   "bought": "bought 购买", "learned": "learned 学习"}


def push_funnel(sent: Mapping[str, int], market_counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """Tips pushed by the struggle push: recommended (the marketplace's pushes, as metrics counts them), read
    by the agent, bought and learned (what the agents did with them)."""
    counts = {"recommended": market_counts.get("struggle_pushes", 0), "read": sent.get("pushes read", 0),
              "bought": sent.get("pushed tips bought", 0), "learned": sent.get("pushed tips learned", 0)}
    first = counts["recommended"]
    rows: list[dict[str, Any]] = []
    for step, count in counts.items():
        previous = rows[-1]["count"] if rows else None
        rows.append({"step": step, "count": count,
                     "rate_from_previous": count / previous if previous else None,
                     "rate_over_total": count / first if first else None})
    return rows


def rules_table(sent: Mapping[str, int], market_counts: Mapping[str, int], listings: Sequence[Any]) -> Table:
    table = Table(title="The floor's rules 规则")
    table.add_column("indicator")
    table.add_column("value", justify="right")
    by_source = Counter(item.source for item in listings)
    rows = [("calls ended at an objection without progress (dialer)", sent.get("calls stalled at an objection", 0)),
            ("struggle pushes (metrics) / from calls", f"{market_counts.get('struggle_pushes', 0)} / "
                                                       f"{market_counts.get('struggle:none', 0)}"),
            ("do-not-call: numbers listed (complaint / operator)",
             f"{len(listings)} ({by_source['complaint']} / {by_source['operator']})"),
            ("do-not-call: their leads closed (held / pooled)",
             f"{sent.get('do-not-call leads closed', 0)} ({sent.get('do-not-call leads closed: held', 0)} / "
             f"{sent.get('do-not-call leads closed: pooled', 0)})"),
            *((f"  {item.source}: {item.phone[:6]}****{item.phone[-4:]} ({item.holder or 'pooled'})",
               item.status or "–") for item in listings),
            ("do-not-call: dials tried later / allowed", f"{sent.get('do-not-call: dials tried after listing', 0)} / "
                                                         f"{sent.get('do-not-call: dials allowed after listing', 0)}"),
            ("dials asked for / refused", f"{sent.get('calls', 0) + sent.get('dials refused', 0)} / "
                                          f"{sent.get('dials refused', 0)}")]
    rows += [(f"  refused: {name.removeprefix('dials refused: ')}", value) for name, value in sorted(sent.items())
             if name.startswith("dials refused: ")]
    rows += [("wins declared / confirmed / rejected (the supervisor)",
              f"{sent.get('won', 0)} / {sent.get('wins confirmed', 0)} / {sent.get('wins rejected', 0)}")]
    arrival = "on (MBA leads, first team)" if sent.get("arrival rules") else "off"
    rows += [("push on arrival", arrival), ("leads pushed to desks", sent.get("leads pushed to desks", 0))]
    for label, value in rows:
        table.add_row(label, f"{value:,}" if isinstance(value, int) else value)
    return table


def print_floor_rules(console: Console, sent: Mapping[str, int], funnels: Mapping[str, Any],
                      listings: Sequence[Any]) -> None:
    market_counts = (funnels.get("marketplace") or {}).get("counts") or {}
    console.print(funnel_table("Struggle push 卡点推送: pushed tips", push_funnel(sent, market_counts),
                               PUSH_STEP_NAMES, "tips", "recommended"))
    console.print(rules_table(sent, market_counts, listings))
