import { describe, expect, it } from "vitest";
import { affectedQueries, notificationSentence } from "./sentences";
import { NOTIFICATION_KINDS } from "./types";

describe("notification sentences", () => {
  it("makes a lead assignment in both languages", () => {
    const n = { kind: "lead_assigned", subject: { lead_id: "L1", lead_name: "王先生" } };
    expect(notificationSentence(n, "zh-CN")).toEqual({ title: "新线索", body: "线索「王先生」已分配给你。" });
    expect(notificationSentence(n, "en")).toEqual({ title: "New lead", body: "Lead “王先生” was assigned to you." });
  });

  it("names the tip of a purchase and the refusal's reason", () => {
    const granted = { kind: "purchase_granted", subject: { tip_id: "T9", tip_title: "报价异议三步法" } };
    expect(notificationSentence(granted, "zh-CN").body).toBe("锦囊「报价异议三步法」已购买成功，可以开始学习。");
    const refused = { kind: "purchase_refused", subject: { tip_id: "T9", reason: "daily limit" } };
    expect(notificationSentence(refused, "en").body).toBe("Buying tip “T9” did not go through (daily limit).");
  });

  it("says the amount of coins and the decision of a request", () => {
    expect(notificationSentence({ kind: "coins_received", subject: { amount: 50 } }, "zh-CN").body).toBe("你收到 50 币。");
    expect(notificationSentence({ kind: "approval_decided", subject: { decision: "approved" } }, "en").body).toBe(
      "Your request was approved.",
    );
  });

  it("has a title and body for every kind in both languages, with no placeholder left", () => {
    for (const kind of NOTIFICATION_KINDS) {
      for (const lang of ["zh-CN", "en"] as const) {
        const { title, body } = notificationSentence({ kind, subject: { lead_id: "L1", tip_id: "T1" } }, lang);
        expect(title).not.toMatch(/notif\./);
        expect(body).not.toMatch(/[{}]/);
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
      expect.arrayContaining([["leads"], ["lead", "L1"]]),
    );
  });
});
