import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { cachedNames } from "./names";
import { notificationSentence } from "./sentences";

describe("names in notifications", () => {
  it("calls a lead by its customer's name and a tip by its title when known, by id otherwise", () => {
    const queryClient = new QueryClient();
    queryClient.setQueryData(["leads", "me"], [{ lead_id: "L1", name: "王先生" }]);
    queryClient.setQueryData(["tip", "T1"], { tip_id: "T1", title: "开场白模板" });
    const hot = { kind: "hot_lead", subject: { lead_id: "L1", signal_kind: "unpaid_order", detail: null } };
    expect(notificationSentence(hot, "zh-CN", cachedNames(queryClient, hot.subject)).body).toContain("线索「王先生」");
    const granted = { kind: "purchase_granted", subject: { tip_id: "T1", price: 200 } };
    expect(notificationSentence(granted, "en", cachedNames(queryClient, granted.subject)).body).toContain("“开场白模板”");
    const unknown = { kind: "hot_lead", subject: { lead_id: "L9", signal_kind: "unpaid_order" } };
    expect(notificationSentence(unknown, "en", cachedNames(queryClient, unknown.subject)).body).toContain("“L9”");
  });
});
