import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { renderIn } from "../test/render";
import { ErasureCard } from "./ErasureCard";
import { ErasureList } from "./ErasureList";

const api = vi.hoisted(async () => (await import("../test/fetchRecorder")).installFetchRecorder());

const SERVICES = ["allocator", "console", "lead-intake", "ledger", "marketplace", "metrics"];
const view = (status: string, leads: string[], answered: string[] = []) => ({
  request_id: "erasure-1", status, reason: "request", note: "T-19", requested_by: { sub: "op-1", roles: ["operator"] },
  requested_at: "2026-12-07T05:00:00Z", completed_at: status === "pending" ? null : "2026-12-07T05:00:03Z",
  lead_ids: leads, expected_services: status === "nothing_found" ? SERVICES : SERVICES,
  services: Object.fromEntries(answered.map((s) => [s, { completed_at: "2026-12-07T05:00:02Z", counts: { leads: 1 } }])),
});

function renderCard(lang: "zh-CN" | "en", withList = false) {
  renderIn(
    lang,
    <QueryClientProvider client={new QueryClient({ defaultOptions: { mutations: { retry: false }, queries: { retry: false } } })}>
      <ErasureCard />
      {withList ? <ErasureList /> : null}
    </QueryClientProvider>,
  );
}

describe("erasing a person's data", () => {
  it("sends the phone, email and reason once and follows the request until every service answered", async () => {
    const { recorded, state } = await api;
    let reads = 0;
    state.answer = (request) => {
      if (request.method === "POST") return { status: 202, body: view("pending", ["L1", "L2"]) };
      reads += 1;
      return { status: 200, body: reads < 2 ? view("pending", ["L1", "L2"], ["lead-intake"]) : view("complete", ["L1", "L2"], SERVICES) };
    };
    renderCard("zh-CN");
    fireEvent.change(screen.getByLabelText("手机号"), { target: { value: " 13912345678 " } });
    fireEvent.change(screen.getByLabelText("原因（如工单号）"), { target: { value: "T-19" } });
    fireEvent.click(screen.getByText("删除", { selector: "button span" }));
    const status = screen.getByRole("status");
    await waitFor(() => expect(status).toHaveTextContent("已受理请求 erasure-1：2 条线索，各服务正在删除。"));
    expect(status).toHaveAttribute("aria-live", "polite");
    expect(recorded.filter((r) => r.method === "POST").at(-1)).toEqual({
      method: "POST",
      path: "/api/lead-intake/v1/erasures",
      body: { phone: "13912345678", email: null, reason: "T-19" },
    });
    expect(screen.getByLabelText("手机号")).toHaveValue(""); // the number is not left on the page
    await waitFor(() => expect(status).toHaveTextContent("请求 erasure-1 已完成"), { timeout: 6000 });
    expect(status).toHaveTextContent("6 个服务中已有 6 个删除了各自的副本。");
    for (const service of SERVICES) expect(within(status).getByText(service)).toBeInTheDocument();
    expect(recorded.some((r) => r.method === "GET" && r.path === "/api/lead-intake/v1/erasures/erasure-1")).toBe(true);
    expect(status.textContent).not.toContain("13912345678");
  }, 10_000);

  it("refuses an empty form without asking, and says when nobody was found", async () => {
    const { recorded, state } = await api;
    const before = recorded.length;
    renderCard("en");
    fireEvent.click(screen.getByText("Erase", { selector: "button span" }));
    expect((await screen.findAllByText("Give a phone or an email")).length).toBeGreaterThan(0);
    expect(recorded.length).toBe(before);
    state.answer = () => ({ status: 202, body: view("nothing_found", []) });
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "nobody@example.com" } });
    fireEvent.click(screen.getByText("Erase", { selector: "button span" }));
    await waitFor(() =>
      expect(screen.getByRole("status")).toHaveTextContent("No lead has that phone or email (request erasure-1)"),
    );
    expect(screen.getByRole("status")).not.toHaveTextContent("services have erased");
  });

  it("shows the service's problem when it refuses, and keeps what was typed to correct it", async () => {
    const { state } = await api;
    state.answer = () => ({ status: 422, body: { type: "about:blank", title: "Invalid phone", status: 422,
      detail: "'12' is not a valid phone number." } });
    renderCard("en");
    fireEvent.change(screen.getByLabelText("Phone"), { target: { value: "12" } });
    fireEvent.click(screen.getByText("Erase", { selector: "button span" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The erasure was not accepted");
    expect(alert).toHaveTextContent("'12' is not a valid phone number.");
    expect(screen.getByRole("status")).toBeEmptyDOMElement();
    expect(screen.getByLabelText("Phone")).toHaveValue("12");
  });

  it("lists the latest requests with their state, in Chinese", async () => {
    const { state } = await api;
    state.answer = () => ({ status: 200, body: { items: [view("complete", ["L1"], SERVICES),
      { ...view("nothing_found", []), request_id: "erasure-2" }], next_before: null } });
    renderCard("zh-CN", true);
    const list = await screen.findByRole("table");
    await waitFor(() => expect(within(list).getByText("erasure-2")).toBeInTheDocument());
    expect(within(list).getByText("已完成")).toBeInTheDocument();
    expect(within(list).getByText("未找到")).toBeInTheDocument();
    expect(within(list).getByText("6/6")).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "删除请求" })).toBeInTheDocument();
  });
});
