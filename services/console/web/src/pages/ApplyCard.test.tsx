import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import type { ApplicationView } from "../api/clients";
import { translate, type Lang } from "../i18n";
import type { MessageKey } from "../i18n/messages";
import { renderIn } from "../test/render";
import { ApplyCard, applicationReason, applicationWords } from "./ApplyCard";

const api = vi.hoisted(async () => (await import("../test/fetchRecorder")).installFetchRecorder());

const t = (lang: Lang) => (key: MessageKey, vars?: Record<string, string | number>) => translate(lang, key, vars);
const at = "2025-03-01T08:00:00Z";
const application = (id: string, status: ApplicationView["status"], more: Partial<ApplicationView> = {}): ApplicationView => ({
  application_id: id, agent_id: "A001", pool_id: "edu", status, applied_at: at, decided_at: at, lead_id: null,
  reason: null, position: null, ...more,
});

describe("the apply card (轮询申领)", () => {
  it("says why an application was refused, in both languages", () => {
    expect(applicationReason(t("zh-CN"), "not_working (on_break)")).toBe("轮到你时你不在岗（休息中）");
    expect(applicationReason(t("en"), "not_working (logged_out)")).toBe("you were away when your turn came (signed out)");
    expect(applicationReason(t("zh-CN"), "holding_cap_reached")).toBe("持有线索已达上限");
    expect(applicationReason(t("en"), "something_new")).toBe("something_new");
    const refused = application("R", "refused", { reason: "refresh_quota_used" });
    expect(applicationWords(t("zh-CN"), "zh-CN", refused)).toMatch(/未分配：今日领取额度已用完$/);
    expect(applicationWords(t("en"), "en", application("S", "served", { lead_id: "L1" }), "王先生")).toMatch(/got lead “王先生”$/);
  });

  it("applies for a lead of the chosen pool, shows the waiting one in turn and cancels it", async () => {
    const { recorded, state } = await api;
    let items: ApplicationView[] = [application("OLD", "refused", { reason: "not_working (on_break)" })];
    state.answer = ({ method, path }) => {
      if (path === "/v1/session") return { status: 200, body: { user: { sub: "A001", roles: ["agent"] }, csrf_token: "x" } };
      if (path.endsWith("/leads")) return { status: 200, body: { items: [], next_cursor: null } };
      if (method === "POST") {
        items = [application("NEW", "pending", { position: 2, decided_at: null }), ...items];
        return { status: 201, body: items[0] };
      }
      if (method === "DELETE") {
        items = [{ ...items[0], status: "cancelled" }, ...items.slice(1)];
        return { status: 200, body: items[0] };
      }
      return { status: 200, body: { items, next_cursor: null, pools: ["edu", "vip"] } };
    };
    renderIn(
      "zh-CN",
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter>
          <ApplyCard />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    expect(await screen.findByText(/未分配：轮到你时你不在岗（休息中）/)).toBeInTheDocument();
    const submit = screen.getByRole("button", { name: "申领" });
    await waitFor(() => expect(submit).toBeEnabled());
    fireEvent.click(submit);
    expect(await screen.findByText("等待中：edu 排第 2 位")).toBeInTheDocument();
    expect(recorded.find((r) => r.method === "POST")).toMatchObject({
      path: "/api/allocator/v1/agents/A001/applications", body: { pool_id: "edu" },
    });
    fireEvent.click(screen.getByRole("button", { name: "取消申领" }));
    expect(await screen.findByText(/已取消$/)).toBeInTheDocument();
    expect(recorded.find((r) => r.method === "DELETE")?.path).toBe("/api/allocator/v1/agents/A001/applications/NEW");
    expect(screen.queryByText(/等待中：/)).toBeNull();
  });

  it("says why an apply was refused at once, in words", async () => {
    const { state } = await api;
    state.answer = ({ method, path }) => {
      if (path === "/v1/session") return { status: 200, body: { user: { sub: "A001", roles: ["agent"] }, csrf_token: "x" } };
      if (path.endsWith("/leads")) return { status: 200, body: { items: [], next_cursor: null } };
      if (method === "POST")
        return { status: 409, body: { code: "not_working", title: "Conflict", detail: "A001 may not apply for a lead now: not_working (on_break)" } };
      return { status: 200, body: { items: [], next_cursor: null, pools: ["edu"] } };
    };
    renderIn(
      "zh-CN",
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter>
          <ApplyCard />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    const submit = await screen.findByRole("button", { name: "申领" });
    await waitFor(() => expect(submit).toBeEnabled());
    fireEvent.click(submit);
    expect(await screen.findByRole("alert")).toHaveTextContent("你目前不在岗（休息中），回到岗位后再申领");
  });
});
