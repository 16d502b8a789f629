import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { renderIn } from "../test/render";
import NotificationList from "./NotificationList";
import type { AppNotification } from "./types";

const at = "2025-03-01T08:00:00Z";
// The new kinds of issue 18, with subjects exactly as the BFF's mappings make them (console/notifications.py).
const items: AppNotification[] = [
  { seq: 5, id: "n5", kind: "lead_do_not_call", link: "/leads", at, read: false,
    subject: { lead_id: "L4", reason: "do-not-call: complaint", business_line: "edu" } },
  { seq: 4, id: "n4", kind: "approval_waiting", link: "/wallet", at, read: false,
    subject: { request_id: "Q1", user_id: "A002", team_id: "t1", level: "supervisor", approvals: 0, levels: 2, for: "approver" } },
  { seq: 3, id: "n3", kind: "deal_mark_requested", link: "/leads/L5", at, read: false,
    subject: { lead_id: "L5", request_id: "R1", agent_id: "zhang", note: "签约中" } },
  { seq: 2, id: "n2", kind: "deal_mark_decided", link: "/leads/L5", at, read: true,
    subject: { lead_id: "L5", request_id: "R1", decision: "approved", decided_by: "s1", reason: null, expires_at: at } },
  { seq: 1, id: "n1", kind: "tip_recommended", link: "/tips/T3", at, read: true,
    subject: { tip_id: "T3", trigger: "call", step: null, stage: "closing", tips: [{ tip_id: "T3", title: "促成话术" }] } },
];

function renderList(lang: "zh-CN" | "en") {
  const client = new QueryClient();
  return renderIn(
    lang,
    <QueryClientProvider client={client}>
      <MemoryRouter>
        <NotificationList items={items} loading={false} error={null} onRead={vi.fn()} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("notification list", () => {
  it("shows the new kinds as sentences, with their links", () => {
    renderList("zh-CN");
    expect(screen.getByText("线索「L4」已关闭：号码已列入禁呼名单，请勿拨打。")).toBeInTheDocument();
    expect(screen.getByText("禁止拨打").closest("a")).toHaveAttribute("href", "/leads"); // the list: the lead is nobody's now
    expect(screen.getByText("A002 申请重新配置学呗金，等待你审批（主管）。")).toBeInTheDocument();
    expect(screen.getByText("商机进行中待审批").closest("a")).toHaveAttribute("href", "/leads/L5");
    expect(screen.getByText("zhang 申请将线索「L5」标记为商机进行中（签约中）。")).toBeInTheDocument();
    expect(screen.getByText(/^线索「L5」的商机进行中标记已通过，有效至 .+。$/)).toBeInTheDocument();
    expect(screen.getByText("为你推荐锦囊「促成话术」（通话止步于促成，未能推进）。")).toBeInTheDocument();
  });

  it("says the same in English", () => {
    renderList("en");
    expect(screen.getByText("Lead “L4” was closed: its number is on the do-not-call list. Do not call it.")).toBeInTheDocument();
    expect(screen.getByText("A002's request for coins waits for your approval (supervisor).")).toBeInTheDocument();
    expect(screen.getByText("Recommended for you: tip “促成话术” (a call ended at closing without progress).")).toBeInTheDocument();
  });
});
