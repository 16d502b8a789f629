import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { DealMarkView } from "../api/clients";
import { translate, type Lang } from "../i18n";
import type { MessageKey } from "../i18n/messages";
import { renderIn } from "../test/render";
import { DealMarkCard, dealMarkWords } from "./DealMarkCard";

const api = vi.hoisted(async () => (await import("../test/fetchRecorder")).installFetchRecorder());

const t = (lang: Lang) => (key: MessageKey, vars?: Record<string, string | number>) => translate(lang, key, vars);
const asked: DealMarkView = { request_id: "R1", status: "pending", agent_id: "A001", requested_at: "2025-03-01T08:00:00Z", note: "签约中" };

function renderCard(lead: Parameters<typeof DealMarkCard>[0]["lead"], me: string, supervisor: boolean, onChanged = vi.fn()) {
  renderIn(
    "zh-CN",
    <QueryClientProvider client={new QueryClient()}>
      <DealMarkCard lead={lead} me={me} supervisor={supervisor} onChanged={onChanged} />
    </QueryClientProvider>,
  );
  return onChanged;
}

describe("deal-in-progress mark", () => {
  it("says its state in words: none, waiting, approved until, expired, refused", () => {
    expect(dealMarkWords(t("zh-CN"), "zh-CN", null)).toBe("未申请");
    expect(dealMarkWords(t("zh-CN"), "zh-CN", asked)).toMatch(/^待主管审批（A001 于 2025-03-01 \d\d:00 申请，签约中）$/);
    const approved: DealMarkView = { ...asked, status: "approved", expires_at: "2025-03-08T08:00:00Z" };
    const before = new Date("2025-03-02T00:00:00Z").getTime();
    expect(dealMarkWords(t("en"), "en", approved, before)).toMatch(/^Approved: protects the lead until 2025-03-08 \d\d:00$/);
    expect(dealMarkWords(t("zh-CN"), "zh-CN", approved, new Date("2025-03-09T00:00:00Z").getTime())).toMatch(/^已过期（2025-03-08/);
    expect(dealMarkWords(t("en"), "en", { ...asked, status: "refused", reason: "no contract yet" })).toBe(
      "Refused by the supervisor: no contract yet",
    );
  });

  it("lets the holder ask for it and says it waits for the supervisor", async () => {
    const { recorded, state } = await api;
    state.answer = () => ({ status: 200, body: {} });
    const onChanged = renderCard({ lead_id: "L1", holder: "A001", status: "held", deal_mark: null }, "A001", false);
    expect(screen.queryByText("批准")).toBeNull();
    fireEvent.change(screen.getByLabelText("申请说明（可选）"), { target: { value: "下周签约" } });
    fireEvent.click(screen.getByText("申请标记商机进行中", { selector: "button span" }));
    await waitFor(() => expect(onChanged).toHaveBeenCalled());
    expect(recorded.at(-1)).toEqual({
      method: "POST",
      path: "/api/allocator/v1/leads/L1/deal-mark",
      body: { agent_id: "A001", note: "下周签约" },
    });
    expect(await screen.findByText("已提交申请，等待主管审批")).toBeInTheDocument();
  });

  it("shows the holder no ask button while a request waits", () => {
    renderCard({ lead_id: "L1", holder: "A001", status: "held", deal_mark: asked }, "A001", false);
    expect(screen.getByTestId("deal-mark-state")).toHaveTextContent("待主管审批");
    expect(screen.queryByText("申请标记商机进行中", { selector: "button span" })).toBeNull();
  });

  it("lets the supervisor approve or refuse a waiting request", async () => {
    const { recorded, state } = await api;
    state.answer = () => ({ status: 200, body: {} });
    const onChanged = renderCard({ lead_id: "L1", holder: "A001", status: "held", deal_mark: asked }, "S1", true);
    expect(screen.getByText("等待你审批")).toBeInTheDocument();
    fireEvent.change(screen.getByLabelText("审批意见（可选）"), { target: { value: "合同已发" } });
    fireEvent.click(screen.getByText("批准", { selector: "button span" }));
    await waitFor(() => expect(onChanged).toHaveBeenCalled());
    expect(recorded.at(-1)).toEqual({
      method: "POST",
      path: "/api/allocator/v1/leads/L1/deal-mark/decision",
      body: { request_id: "R1", decision: "approved", reason: "合同已发" },
    });
    fireEvent.click(screen.getByText("拒绝", { selector: "button span" }));
    await waitFor(() => expect(recorded.at(-1)?.body).toEqual({ request_id: "R1", decision: "refused", reason: null }));
  });

  it("shows a refused decision as the allocator's words", async () => {
    const { state } = await api;
    state.answer = () => ({ status: 403, body: { title: "Forbidden", detail: "S9 does not supervise A001." } });
    renderCard({ lead_id: "L1", holder: "A001", status: "held", deal_mark: asked }, "S9", true);
    fireEvent.click(screen.getByText("批准", { selector: "button span" }));
    expect(await screen.findByText("S9 does not supervise A001.")).toBeInTheDocument();
  });
});
