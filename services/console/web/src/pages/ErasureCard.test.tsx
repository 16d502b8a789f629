import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { renderIn } from "../test/render";
import { ErasureCard } from "./ErasureCard";

const api = vi.hoisted(async () => (await import("../test/fetchRecorder")).installFetchRecorder());

const view = (status: string, leads: string[]) => ({
  request_id: "erasure-1", status, reason: "request", note: "T-19", requested_by: { sub: "op-1" },
  requested_at: "2026-12-07T05:00:00Z", completed_at: null, lead_ids: leads, expected_services: [], services: {},
});

function renderCard(lang: "zh-CN" | "en") {
  renderIn(
    lang,
    <QueryClientProvider client={new QueryClient({ defaultOptions: { mutations: { retry: false } } })}>
      <ErasureCard />
    </QueryClientProvider>,
  );
}

describe("erasing a person's data", () => {
  it("sends the phone, email and reason once and says how many leads the services erase", async () => {
    const { recorded, state } = await api;
    state.answer = () => ({ status: 202, body: view("pending", ["L1", "L2"]) });
    renderCard("zh-CN");
    fireEvent.change(screen.getByLabelText("手机号"), { target: { value: " 13912345678 " } });
    fireEvent.change(screen.getByLabelText("原因（如工单号）"), { target: { value: "T-19" } });
    fireEvent.click(screen.getByText("删除", { selector: "button span" }));
    expect(await screen.findByRole("status")).toHaveTextContent("已受理请求 erasure-1：2 条线索，各服务正在删除。");
    expect(recorded.at(-1)).toEqual({
      method: "POST",
      path: "/api/lead-intake/v1/erasures",
      body: { phone: "13912345678", email: null, reason: "T-19" },
    });
    expect(screen.getByLabelText("手机号")).toHaveValue(""); // the number is not left on the page
  });

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
    expect(await screen.findByRole("status")).toHaveTextContent("No lead has that phone or email (request erasure-1)");
  });

  it("shows the service's problem when it refuses", async () => {
    const { state } = await api;
    state.answer = () => ({ status: 403, body: { type: "about:blank", title: "Forbidden", status: 403,
      detail: "This route needs one of the roles: operator, service." } });
    renderCard("en");
    fireEvent.change(screen.getByLabelText("Phone"), { target: { value: "13912345678" } });
    fireEvent.click(screen.getByText("Erase", { selector: "button span" }));
    await waitFor(() => expect(screen.getByText(/operator, service/)).toBeInTheDocument());
    expect(screen.queryByRole("status")).toBeNull();
  });
});
