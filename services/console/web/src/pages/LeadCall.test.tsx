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

describe("calls through a privacy number", () => {
  const binding = { middle_number: "+8617100000007", binding_id: "b1", expires_at: "2025-03-01T08:35:00Z", provider: "simulated" };

  it("dials the middle number the allocator bound and says until when, never the customer's number", async () => {
    const { recorded, state } = await api;
    state.answer = () => ({
      status: 200,
      body: { lead_id: "L1", agent_id: "A001", allowed: true, reason: null, detail: null, rest_until: null, binding },
    });
    renderWith("zh-CN", <DialButton leadId="L1" phone="+86139****1357" masked dialerUrl="https://dialer.example/call?to={phone}&lead={lead_id}" />);
    fireEvent.click(screen.getByText("拨打 +86139****1357", { selector: "button span" }));
    const via = await screen.findByTestId("dial-via-privacy");
    expect(via).toHaveTextContent(/^通过隐私号 \+8617100000007 拨打，有效期至 \d\d:35:00/);
    expect(screen.getByRole("link", { name: "再次拨打隐私号 +8617100000007" })).toHaveAttribute(
      "href",
      "https://dialer.example/call?to=%2B8617100000007&lead=L1",
    );
    expect(recorded.at(-1)).toMatchObject({ method: "POST", path: "/api/allocator/v1/leads/L1/dial", body: { check_only: false } });
    expect(document.body.textContent).not.toMatch(/13924681357|1357.*1357/);
  });

  it("in English too, with a tel: link without a dialer", async () => {
    const { state } = await api;
    state.answer = () => ({ status: 200, body: { lead_id: "L1", agent_id: "A001", allowed: true, reason: null, detail: null, rest_until: null, binding } });
    renderWith("en", <DialButton leadId="L1" phone="+8613924681357" />);
    fireEvent.click(screen.getByText("Call +8613924681357", { selector: "button span" }));
    expect(await screen.findByTestId("dial-via-privacy")).toHaveTextContent(/^Calling via privacy number \+8617100000007, valid until \d\d:35:00/);
    expect(screen.getByRole("link", { name: "Dial privacy number +8617100000007 again" })).toHaveAttribute("href", "tel:+8617100000007");
  });

  it("a masked number without a binding is not dialled", async () => {
    const { state } = await api;
    state.answer = () => ({ status: 200, body: { lead_id: "L1", agent_id: "A001", allowed: true, reason: null, detail: null, rest_until: null, binding: null } });
    renderWith("zh-CN", <DialButton leadId="L1" phone="+86139****1357" masked />);
    fireEvent.click(screen.getByText("拨打 +86139****1357", { selector: "button span" }));
    expect(await screen.findByTestId("dial-refused")).toHaveTextContent("没有可拨打的号码");
    expect(screen.queryByTestId("dial-via-privacy")).toBeNull();
  });

  it("says in words when the privacy numbers run out or the provider fails, never a code", async () => {
    const { state } = await api;
    const cases = [
      ["privacy_pool_exhausted", "隐私号暂时全部占用，请稍后再拨。"],
      ["privacy_provider_timeout", "隐私号服务暂时无响应，请稍后再试。"],
      ["privacy_provider_refused", "隐私号服务配置有误，请联系管理员。"],
    ] as const;
    for (const [code, words] of cases) {
      state.answer = () => ({ status: 503, body: { title: "x", code, detail: "all 2 middle numbers are bound" } });
      const { unmount } = renderWith("zh-CN", <DialButton leadId="L1" phone="+86139****1357" masked />);
      fireEvent.click(screen.getByText("拨打 +86139****1357", { selector: "button span" }));
      expect(await screen.findByText(words)).toBeInTheDocument();
      expect(screen.queryByText(/privacy_|middle numbers/)).toBeNull();
      unmount();
    }
  });

  it("names a lead without a number in words", () => {
    expect(dialRefusalWords(t("zh-CN"), { reason: "no_number" })).toBe("暂不可拨打：线索没有可通过隐私号拨打的号码");
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
