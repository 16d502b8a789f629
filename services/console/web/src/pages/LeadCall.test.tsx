import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { translate, type Lang } from "../i18n";
import type { MessageKey } from "../i18n/messages";
import { renderIn } from "../test/render";
import { dialRefusalWords } from "./dialRefusal";
import { CallResultForm, DialButton } from "./LeadCall";

const api = vi.hoisted(async () => (await import("../test/fetchRecorder")).installFetchRecorder());

const t = (lang: Lang) => (key: MessageKey, vars?: Record<string, string | number>) => translate(lang, key, vars);

function renderWith(lang: Lang, ui: React.ReactElement) {
  return renderIn(lang, <QueryClientProvider client={new QueryClient()}>{ui}</QueryClientProvider>);
}

describe("dial refusals in words", () => {
  it("says until when a lead rests, names the do-not-call list, and never shows a code", () => {
    expect(dialRefusalWords(t("zh-CN"), { reason: "resting", rest_until: "2025-03-01T08:30:00Z" })).toMatch(
      /^暂不可拨打：接触频次已达上限，静默至 2025-03-01 \d\d:30$/,
    );
    expect(dialRefusalWords(t("en"), { reason: "do_not_call", rest_until: null })).toBe(
      "Not now: the number is on the do-not-call list",
    );
    expect(dialRefusalWords(t("zh-CN"), { reason: "do_not_call" })).toBe("暂不可拨打：号码已列入禁呼名单");
    for (const reason of ["not_held", "not_the_holder", "closed", "won", "something_new", null]) {
      for (const lang of ["zh-CN", "en"] as const) {
        expect(dialRefusalWords(t(lang), { reason })).not.toMatch(/work\.|[{}_]/);
      }
    }
  });

  it("the call button asks the allocator and shows its refusal, without opening the dialer", async () => {
    const { recorded, state } = await api;
    state.answer = () => ({
      status: 200,
      body: { lead_id: "L1", agent_id: "A001", allowed: false, reason: "resting", detail: "rests", rest_until: "2025-03-01T08:30:00Z" },
    });
    const before = window.location.href;
    renderWith("zh-CN", <DialButton leadId="L1" phone="13800000000" />);
    fireEvent.click(screen.getByText("拨打 13800000000", { selector: "button span" }));
    expect(await screen.findByTestId("dial-refused")).toHaveTextContent(/暂不可拨打：接触频次已达上限，静默至 2025-03-01 \d\d:30/);
    expect(recorded.at(-1)).toMatchObject({ method: "POST", path: "/api/allocator/v1/leads/L1/dial" });
    expect(window.location.href).toBe(before);
  });
});

describe("call result form", () => {
  it("sends where the call ended and whether it progressed", async () => {
    const { recorded, state } = await api;
    state.answer = () => ({ status: 202, body: { event_id: "e1" } });
    const onLogged = vi.fn();
    renderWith("zh-CN", <CallResultForm leadId="L1" onLogged={onLogged} />);
    fireEvent.mouseDown(screen.getByLabelText("通话止步于", { selector: "input" }));
    fireEvent.click(await screen.findByText("异议处理", { selector: ".ant-select-item-option-content" }));
    fireEvent.click(screen.getByLabelText("未推进"));
    fireEvent.click(screen.getByText("记录通话结果", { selector: "button span" }));
    await waitFor(() => expect(onLogged).toHaveBeenCalled());
    expect(recorded.at(-1)).toMatchObject({
      method: "POST",
      path: "/v1/calls",
      body: { lead_id: "L1", connected: true, duration_seconds: 60, stage_reached: "objection_handling", outcome: "no_progress" },
    });
  });

  it("shows the BFF's dial_refused in words", async () => {
    const { state } = await api;
    state.answer = () => ({
      status: 409,
      body: { title: "Conflict", code: "dial_refused", detail: "The allocator refuses...", reason: "do_not_call", rest_until: null },
    });
    renderWith("en", <CallResultForm leadId="L1" onLogged={vi.fn()} />);
    fireEvent.click(screen.getByText("Log call result", { selector: "button span" }));
    expect(await screen.findByText("Not now: the number is on the do-not-call list")).toBeInTheDocument();
    expect(screen.queryByText(/dial_refused|409/)).toBeNull();
  });
});
