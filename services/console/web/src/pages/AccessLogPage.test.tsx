import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { renderIn } from "../test/render";
import AccessLogPage from "./AccessLogPage";

const api = vi.hoisted(async () => (await import("../test/fetchRecorder")).installFetchRecorder());

const record = (user: string, leads: string[], reason: string) => ({
  at: "2025-03-01T08:00:00Z", user, roles: ["agent"], team: "mba", method: "GET",
  route: "/v1/agents/{agent_id}/leads", lead_ids: leads, reason,
});

describe("the access log page", () => {
  it("shows who saw which leads in full and why, and pages to older records", async () => {
    const { state, recorded } = await api;
    let calls = 0;
    state.answer = ({ path }) => {
      if (path === "/api/allocator/v1/access-log") {
        calls += 1;
        return calls === 1
          ? { status: 200, body: { items: [record("zhang", ["L1", "L2"], "holder")], next_cursor: "c1" } }
          : { status: 200, body: { items: [record("sup-wang", ["L3"], "supervisor")], next_cursor: null } };
      }
      return { status: 404, body: {} };
    };
    renderIn(
      "zh-CN",
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter>
          <AccessLogPage />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    const table = await screen.findByRole("table", { name: "访问日志：谁查看了哪些号码" });
    const row = (await within(table).findByText("zhang (mba)")).closest("tr") as HTMLElement;
    expect(within(row).getByText("线索持有人")).toBeInTheDocument();
    expect(within(row).getByText("L1, L2")).toBeInTheDocument();
    expect(within(row).getByText("GET /v1/agents/{agent_id}/leads")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "较早" }));
    expect(await within(table).findByText("主管")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "较早" })).toBeDisabled();
    expect(recorded.every((r) => r.method === "GET")).toBe(true); // the page never writes
  });
});
