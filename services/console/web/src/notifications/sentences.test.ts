import { describe, expect, it } from "vitest";
import { affectedQueries, notificationSentence } from "./sentences";
import { NOTIFICATION_KINDS } from "./types";

// Subjects exactly as the BFF's mappings make them (console/notifications.py).
describe("notification sentences", () => {
  it("makes a lead assignment with its grade and score, in both languages", () => {
    const n = {
      kind: "lead_assigned",
      subject: { lead_id: "L1", lead_grade: "A", score: 82.4, business_line: "edu", strategy: "round_robin", assigned_by: null },
    };
    expect(notificationSentence(n, "zh-CN")).toEqual({ title: "新线索", body: "线索「L1」（A 级，82 分）已分配给你。" });
    expect(notificationSentence(n, "en")).toEqual({ title: "New lead", body: "Lead “L1” (grade A, score 82) was assigned to you." });
  });

  it("says a lead assigned by the agent's own application (轮询申领) answers it", () => {
    const n = { kind: "lead_assigned", subject: { lead_id: "L1", lead_grade: "B", score: 70, applied: true } };
    expect(notificationSentence(n, "zh-CN").body).toBe("你的申领已分到线索「L1」（B 级，70 分）。");
    expect(notificationSentence(n, "en").body).toBe("Your application got lead “L1” (grade B, score 70).");
    expect(affectedQueries(n)).toEqual(expect.arrayContaining([["applications"], ["leads"]]));
  });

  it("names the customer's signal of a hot lead", () => {
    const n = {
      kind: "hot_lead",
      subject: { lead_id: "L2", signal_kind: "unpaid_order", detail: "order 88", routed: true, occurred_at: "2025-03-01T08:00:00Z" },
    };
    expect(notificationSentence(n, "zh-CN").body).toBe("线索「L2」有新动静（下单未支付: order 88），尽快拨打。");
    expect(notificationSentence(n, "en").body).toBe("Lead “L2” is active (unpaid order: order 88): call soon.");
  });

  it("says when a lead is reclaimed and what stops it", () => {
    const at = "2025-03-01T08:00:00Z";
    const call = { kind: "reclaim_warning", subject: { lead_id: "L3", reclaim_kind: "not_processed", reclaim_at: at, stage_percent: 0 } };
    expect(notificationSentence(call, "en").body).toMatch(/^Lead “L3” goes back to the pool at .+ unless you call it\.$/);
    const stage = { ...call, subject: { ...call.subject, reclaim_kind: "not_converted" } };
    expect(notificationSentence(stage, "zh-CN").body).toMatch(/^线索「L3」将于 .+ 回收，除非推进阶段。$/);
    const gone = { kind: "lead_reclaimed", subject: { lead_id: "L3", reclaim_kind: "not_processed", stage_percent: 0, deadline: at } };
    expect(notificationSentence(gone, "zh-CN").body).toBe("线索「L3」已回收至公海（未及时拨打）。");
  });

  it("asks the supervisor about a deal-in-progress mark and tells the agent the decision", () => {
    const asked = { kind: "deal_mark_requested", subject: { lead_id: "L5", request_id: "R1", agent_id: "zhang", note: "签约中" } };
    expect(notificationSentence(asked, "zh-CN").body).toBe("zhang 申请将线索「L5」标记为商机进行中（签约中）。");
    const refused = {
      kind: "deal_mark_decided",
      subject: { lead_id: "L5", request_id: "R1", decision: "refused", decided_by: "s1", reason: "no contract", expires_at: null },
    };
    expect(notificationSentence(refused, "en").body).toBe("Your deal-in-progress mark on lead “L5” was rejected (no contract).");
    const approved = { ...refused, subject: { ...refused.subject, decision: "approved", reason: null, expires_at: "2025-03-01T08:00:00Z" } };
    expect(notificationSentence(approved, "en").body).toMatch(/^Your deal-in-progress mark on lead “L5” was approved until .+\.$/);
    const gone = { kind: "lead_reclaimed", subject: { lead_id: "L5", reclaim_kind: "dialled_without_converting" } };
    expect(notificationSentence(gone, "zh-CN").body).toBe("线索「L5」已回收至公海（连续多日拨打未转化）。");
  });

  it("tells the agent its declared win was rejected, by whom and why", () => {
    const n = {
      kind: "win_rejected",
      subject: { lead_id: "L6", declared_amount_fen: 600000, rejected_by: "order", rejecter: "crm", reason: "crm says the order was lost", order_ref: "SO-7" },
    };
    expect(notificationSentence(n, "zh-CN")).toEqual({
      title: "成单被驳回",
      body: "线索「L6」的成单（6,000.00 元）被CRM（订单丢失）驳回（crm says the order was lost），不计入任何统计，线索已回到你的列表。",
    });
    const bySupervisor = { ...n, subject: { ...n.subject, rejected_by: "supervisor", reason: "no payment seen" } };
    expect(notificationSentence(bySupervisor, "en").body).toBe(
      "Your win on lead “L6” (¥6,000.00) was rejected by your supervisor (no payment seen): it counts for nothing and the lead is back on your list.",
    );
    expect(affectedQueries(n)).toContainEqual(["lead", "L6"]);
  });

  it("tells the agent its win was confirmed and now counts", () => {
    const n = {
      kind: "win_confirmed",
      subject: { lead_id: "L6", amount_fen: 600000, confirmed_by: "order", confirmer: "/crm/x", order_ref: "SO-7" },
    };
    expect(notificationSentence(n, "zh-CN")).toEqual({
      title: "成单已确认",
      body: "线索「L6」的成单（6,000.00 元）已由订单确认，计入评级与排名。",
    });
    const bySupervisor = { ...n, subject: { ...n.subject, confirmed_by: "supervisor" } };
    expect(notificationSentence(bySupervisor, "en").body).toBe(
      "Your win on lead “L6” (¥6,000.00) was confirmed by your supervisor: it counts toward grades and rankings.",
    );
    expect(affectedQueries(n)).toContainEqual(["lead", "L6"]);
  });

  it("tells the user why numbers are masked and the supervisor who went past the hourly limit", () => {
    const subject = { user_id: "zhang", team_id: "mba", hour: "2025-03-01T08", count: 201, budget: 200, service: "allocator" };
    const user = { kind: "unmask_budget_exceeded", subject: { ...subject, for: "user" } };
    expect(notificationSentence(user, "zh-CN")).toEqual({
      title: "号码已隐藏：超出每小时查看上限",
      body: "您本小时已查看 201 个完整号码（上限 200）：本小时内号码和姓名将保持隐藏，已通知您的主管。",
    });
    const supervisor = { kind: "unmask_budget_exceeded", subject: { ...subject, for: "supervisor" } };
    expect(notificationSentence(supervisor, "en").body).toBe(
      "zhang viewed 201 full phone numbers this hour (limit 200): their numbers are masked until the hour ends. Check the access log if this is unexpected.",
    );
    expect(affectedQueries(user)).toContainEqual(["leads"]);
  });

  it("tells the holder a lead was closed because its number is on the do-not-call list", () => {
    const n = { kind: "lead_do_not_call", subject: { lead_id: "L4", reason: "do-not-call: complaint: rude", business_line: "edu" } };
    expect(notificationSentence(n, "zh-CN")).toEqual({ title: "禁止拨打", body: "线索「L4」已关闭：号码已列入禁呼名单，请勿拨打。" });
    expect(notificationSentence(n, "en").body).toBe("Lead “L4” was closed: its number is on the do-not-call list. Do not call it.");
    expect(affectedQueries(n)).toContainEqual(["lead", "L4"]);
  });

  it("names the tip of a purchase and the refusal's reason in words", () => {
    const granted = { kind: "purchase_granted", subject: { tip_id: "T9", purchase_id: "P1", version: 2, price: 30 } };
    expect(notificationSentence(granted, "zh-CN").body).toBe("锦囊「T9」已购买成功，可以开始学习。");
    const refused = {
      kind: "purchase_refused",
      subject: { tip_id: "T9", purchase_id: "P1", price: 30, reason: "insufficient_funds", limit: null, limit_value: null, message: "x" },
    };
    expect(notificationSentence(refused, "en").body).toBe("Buying tip “T9” did not go through (not enough coins).");
    const limited = {
      ...refused,
      subject: { ...refused.subject, reason: "daily_limit", limit: "buyer_daily_count", limit_value: 5 },
    };
    expect(notificationSentence(limited, "zh-CN").body).toBe("锦囊「T9」购买未成功（今日购买次数上限 5）。");
  });

  it("recommends a tip by its title, with the rates that made it", () => {
    const n = {
      kind: "tip_recommended",
      subject: {
        tip_id: "T1",
        recommendation_id: "R1",
        step: "intent",
        stage: "quoting",
        agent_rate: 0.2,
        team_rate: 0.35,
        gap: 0.15,
        tips: [{ tip_id: "T1", title: "报价异议三步法", price: 10, rating: 4.5 }],
      },
    };
    expect(notificationSentence(n, "zh-CN").body).toBe("为你推荐锦囊「报价异议三步法」（意向率：你 20%，团队 35%）。");
    const many = { ...n, subject: { ...n.subject, tip_id: "T1", tips: [n.subject.tips[0], { tip_id: "T2", title: "b" }] } };
    expect(notificationSentence(many, "en").body).toBe("Recommended for you: 2 tips (Intent: you 20%, team 35%).");
  });

  it("names the call stage of a push made by a call, and every funnel step of a window's push", () => {
    const call = {
      kind: "tip_recommended",
      subject: {
        tip_id: "T3",
        recommendation_id: "R2",
        trigger: "call",
        step: null,
        stage: "objection_handling",
        agent_rate: null,
        team_rate: null,
        gap: null,
        tips: [{ tip_id: "T3", title: "价格异议化解", price: 20, rating: 4.8 }],
      },
    };
    expect(notificationSentence(call, "zh-CN").body).toBe("为你推荐锦囊「价格异议化解」（通话止步于异议处理，未能推进）。");
    expect(notificationSentence(call, "en").body).toBe(
      "Recommended for you: tip “价格异议化解” (a call ended at objection handling without progress).",
    );
    const window = { ...call, subject: { ...call.subject, trigger: "window", agent_rate: 0.1, team_rate: 0.3 } };
    expect(notificationSentence({ ...window, subject: { ...window.subject, step: "agreed_visit" } }, "zh-CN").body).toBe(
      "为你推荐锦囊「价格异议化解」（同意到访率：你 10%，团队 30%）。",
    );
    expect(notificationSentence({ ...window, subject: { ...window.subject, step: "paid" } }, "en").body).toBe(
      "Recommended for you: tip “价格异议化解” (Paid: you 10%, team 30%).",
    );
  });

  it("says who forwarded a tip and their note", () => {
    const n = { kind: "tip_forwarded", subject: { tip_id: "T1", from_user_id: "A002", note: "好用" } };
    expect(notificationSentence(n, "zh-CN").body).toBe("A002 向你转发了锦囊「T1」（好用）。");
  });

  it("says the amount of coins, where they came from, and the decision of a request", () => {
    expect(notificationSentence({ kind: "coins_received", subject: { source: "sale", amount: 50, tip_id: "T1" } }, "zh-CN").body).toBe(
      "你收到 50 币（锦囊售出）。",
    );
    expect(
      notificationSentence(
        { kind: "approval_decided", subject: { request_id: "Q1", decision: "approved", amount: 20, reason: null, decided_by: "op" } },
        "en",
      ).body,
    ).toBe("Your request was approved with 20 coins.");
    expect(
      notificationSentence({ kind: "approval_decided", subject: { decision: "rejected", reason: "too soon" } }, "zh-CN").body,
    ).toBe("你的申请未通过（too soon）。");
    const waiting = { request_id: "Q1", user_id: "A002", level: "manager", approvals: 1, levels: 2 };
    expect(notificationSentence({ kind: "approval_waiting", subject: { ...waiting, for: "approver" } }, "en").body).toBe(
      "A002's request for coins waits for your approval (manager).",
    );
    expect(notificationSentence({ kind: "approval_waiting", subject: { ...waiting, for: "requester" } }, "zh-CN").body).toBe(
      "你的学呗金申请正在等待经理审批。",
    );
  });

  it("has a title and body for every kind in both languages, with no placeholder left", () => {
    for (const kind of NOTIFICATION_KINDS) {
      for (const lang of ["zh-CN", "en"] as const) {
        for (const subject of [{ lead_id: "L1", tip_id: "T1" }, {}]) {
          const { title, body } = notificationSentence({ kind, subject }, lang);
          expect(title).not.toMatch(/notif\./);
          expect(body).not.toMatch(/[{}]|undefined|notif\./);
        }
      }
    }
  });

  it("falls back to a plain sentence for a kind it does not know", () => {
    expect(notificationSentence({ kind: "something_new", subject: {} }, "en")).toEqual({
      title: "Notification",
      body: "You have a new notification.",
    });
  });

  it("refreshes the tip and the wallet on a granted purchase, my leads on an assignment", () => {
    expect(affectedQueries({ kind: "purchase_granted", subject: { tip_id: "T1" } })).toEqual(
      expect.arrayContaining([["wallet"], ["tip", "T1"], ["purchase", "T1"]]),
    );
    expect(affectedQueries({ kind: "lead_assigned", subject: { lead_id: "L1" } })).toEqual(
      expect.arrayContaining([["leads"], ["lead", "L1"], ["lead-history", "L1"]]),
    );
  });
});
