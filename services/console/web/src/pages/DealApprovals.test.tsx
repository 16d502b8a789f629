import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { renderIn } from "../test/render";
import DealApprovals from "./DealApprovals";

const api = vi.hoisted(async () => (await import("../test/fetchRecorder")).installFetchRecorder());

const at = "2025-03-01T08:00:00Z";
const requested = (seq: number, lead: string, request: string) => ({
  seq, id: `n${seq}`, kind: "deal_mark_requested", link: `/leads/${lead}`, at, read: false,
  subject: { lead_id: lead, request_id: request, agent_id: "A001", note: null },
});
const lead = (id: string, name: string, mark: Record<string, unknown> | null) => ({
  lead_id: id, name, status: "held", holder: "A001", deal_mark: mark,
});

describe("a supervisor's approvals waiting", () => {
  it("lists the requests still pending, linked to their leads, and not those decided", async () => {
    const { state } = await api;
    state.answer = ({ path }) => {
      if (path === "/v1/notifications")
        return { status: 200, body: { items: [requested(3, "L1", "R1"), requested(2, "L2", "R2")], unread: 2, next_before: null } };
      if (path.endsWith("/L1"))
        return { status: 200, body: lead("L1", "王先生", { request_id: "R1", status: "pending", agent_id: "A001", requested_at: at, note: "下周签约" }) };
      return { status: 200, body: lead("L2", "李女士", { request_id: "R2", status: "approved", agent_id: "A001", requested_at: at }) };
    };
    renderIn(
      "zh-CN",
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter>
          <DealApprovals />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    const waiting = await screen.findByText("A001 申请将线索「王先生」标记为商机进行中（下周签约）。");
    expect(waiting.closest("a")).toHaveAttribute("href", "/leads/L1");
    expect(screen.getByText("等待你审批")).toBeInTheDocument();
    expect(screen.queryByText(/李女士/)).toBeNull();
  });
});
