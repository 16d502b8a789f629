import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { screen, waitFor } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { renderIn } from "../test/render";
import DealApprovals from "./DealApprovals";

const api = vi.hoisted(async () => (await import("../test/fetchRecorder")).installFetchRecorder());

const session = (team: string | null) => ({
  csrf_token: "c", dialer_url: null, expires_at: "2099-01-01T00:00:00Z",
  user: { sub: "S1", name: null, roles: ["supervisor"], tenant: "t", team },
});
const row = (lead: string, request: string, customer: string, reason: string | null) => ({
  lead_id: lead, request_id: request, customer, phone: "138****5678", agent_id: "A001",
  requested_at: "2025-03-01T08:00:00Z", reason, expires_at: "2025-03-04T08:00:00Z",
});

function show() {
  renderIn(
    "zh-CN",
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter>
        <DealApprovals />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("a supervisor's approvals waiting", () => {
  it("lists the team's waiting requests as the allocator keeps them, every page, linked to their leads", async () => {
    const { state, recorded } = await api;
    recorded.length = 0;
    state.answer = ({ path }) => {
      if (path.endsWith("/v1/session")) return { status: 200, body: session("T1") };
      if (path === "/api/allocator/v1/teams/T1/deal-marks") {
        const second = recorded.filter((r) => r.path === path).length > 1;
        return second
          ? { status: 200, body: { team_id: "T1", state: "requested", items: [row("L2", "R2", "李**", null)], next_cursor: null } }
          : { status: 200, body: { team_id: "T1", state: "requested", items: [row("L1", "R1", "王**", "下周签约")], next_cursor: "c1" } };
      }
      return { status: 404, body: {} };
    };
    show();
    const first = await screen.findByText("A001 申请将线索「王**」标记为商机进行中（下周签约）。");
    expect(first.closest("a")).toHaveAttribute("href", "/leads/L1");
    expect(await screen.findByText("A001 申请将线索「李**」标记为商机进行中。")).toBeInTheDocument();
    expect(screen.getByText("等待你审批")).toBeInTheDocument();
    expect(screen.getAllByText(/未审批将于 2025-03-04 \d\d:00 随线索回收失效/)).toHaveLength(2);
    // no notification is read for it any more: the allocator's list is the one source
    expect(recorded.some((r) => r.path.includes("notifications"))).toBe(false);
  });

  it("shows nothing when no request waits", async () => {
    const { state, recorded } = await api;
    recorded.length = 0;
    state.answer = ({ path }) =>
      path.endsWith("/v1/session")
        ? { status: 200, body: session("T1") }
        : { status: 200, body: { team_id: "T1", state: "requested", items: [], next_cursor: null } };
    show();
    await waitFor(() => expect(recorded.some((r) => r.path.endsWith("/T1/deal-marks"))).toBe(true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(screen.queryByText("等待你审批")).toBeNull();
  });
});
