import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { renderIn } from "../test/render";
import TeamPage from "./TeamPage";

const api = vi.hoisted(async () => (await import("../test/fetchRecorder")).installFetchRecorder());

const session = {
  csrf_token: "c", dialer_url: null, expires_at: "2099-01-01T00:00:00Z",
  user: { sub: "S1", name: null, roles: ["supervisor"], tenant: "t", team: "T1" },
};
const weights = {
  team_id: "T1", window_days: 28, min_leads: 10, floor: 0.05,
  agents: [
    { agent_id: "A001", received: 20, won: 5, conversion: 0.25, weight: 0.25, floor_applied: false },
    { agent_id: "A002", received: 3, won: 1, conversion: 0.3333, weight: 0.05, floor_applied: true },
    { agent_id: "A003", received: 40, won: 1, conversion: 0.025, weight: 0.05, floor_applied: true },
  ],
};
const unplaced = {
  team_id: "T1", pool_ids: ["hot"], total: 2, next_cursor: null,
  items: [
    { lead_id: "L9", name: "张**", phone: "139****1357", pool_id: "hot", score: 80, status: "pooled",
      push_missed: { code: "no_eligible_agent", reason: "no_eligible_agent", at: "2025-03-01T08:00:00Z" } },
    { lead_id: "L8", name: "李**", phone: "138****5678", pool_id: "hot", score: 70, status: "pooled",
      push_missed: { code: "mystery", reason: "mystery (detail)", at: "2025-03-01T07:00:00Z" } },
  ],
};

describe("a supervisor's team view", () => {
  it("shows each agent's measured weight, the new agents' floor, and the leads the push could not place", async () => {
    const { state } = await api;
    state.answer = ({ path }) => {
      if (path.endsWith("/v1/session")) return { status: 200, body: session };
      if (path === "/api/allocator/v1/teams/T1/ability-weights") return { status: 200, body: weights };
      if (path === "/api/allocator/v1/teams/T1/unplaced-leads") return { status: 200, body: unplaced };
      return { status: 404, body: {} };
    };
    renderIn(
      "en",
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter>
          <TeamPage />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    const table = await screen.findByRole("table", { name: "Ability weights (ability + average)" });
    const a1 = (await within(table).findByText("A001")).closest("tr") as HTMLElement;
    expect(within(a1).getByText("25.0%")).toBeInTheDocument();
    expect(within(a1).getByText("0.250")).toBeInTheDocument();
    expect(within(a1).queryByText(/floor/)).toBeNull();
    const a2 = within(table).getByText("A002").closest("tr") as HTMLElement;
    expect(within(a2).getByText("New agent: floor")).toBeInTheDocument();
    expect(within(a2).getByText("33.3%")).toBeInTheDocument();
    const a3 = within(table).getByText("A003").closest("tr") as HTMLElement;
    expect(within(a3).getByText("Below the floor: floor")).toBeInTheDocument();
    expect(screen.getByText(/last 28 days.+fewer than 10 leads.+0\.05/)).toBeInTheDocument();

    const missed = await screen.findByRole("table", { name: "Leads the push could not place" });
    const l9 = (await within(missed).findByRole("link", { name: "张**" })).closest("tr") as HTMLElement;
    expect(within(l9).getByText(/no agent could take it/)).toBeInTheDocument();
    expect(within(missed).getByText("mystery (detail)")).toBeInTheDocument();
    expect(screen.getByText(/2 in all/)).toBeInTheDocument();
  });
});
