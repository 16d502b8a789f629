import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { renderIn } from "../test/render";
import { stageGoal, stageLayer } from "./stage";
import { StageControl } from "./StageControl";

describe("stage control", () => {
  it("places a percent in its layer and names the next as the goal", () => {
    expect(stageLayer(0)).toBe("verified_contact");
    expect(stageLayer(39)).toBe("need_found");
    expect(stageLayer(100)).toBe("paid_in_full");
    expect(stageGoal(45)).toBe("contract_and_deposit");
    expect(stageGoal(90)).toBe("paid_in_full");
  });

  it("moves the stage with the keyboard and submits a StageIn", async () => {
    const onSubmit = vi.fn();
    renderIn("zh-CN", <StageControl value={{ stage_percent: 38, funnel_step: "intent" }} onSubmit={onSubmit} />);
    expect(screen.getByTestId("stage-layer")).toHaveTextContent("阶段 38%：挖掘需求");
    // getByLabelText, not getByRole: role queries walk antd's whole tree and are slow on this machine.
    const slider = screen.getByLabelText("阶段进度", { selector: "[role=slider]" });
    fireEvent.keyDown(slider, { key: "ArrowRight", keyCode: 39 });
    fireEvent.keyDown(slider, { key: "ArrowRight", keyCode: 39 });
    expect(screen.getByTestId("stage-layer")).toHaveTextContent("阶段 40%：确定方案与付款日期");
    fireEvent.change(screen.getByLabelText("备注"), { target: { value: "客户约了下周面谈" } });
    fireEvent.click(screen.getByText("推进阶段", { selector: "button span" }));
    await waitFor(() =>
      expect(onSubmit).toHaveBeenCalledWith({
        stage_percent: 40,
        funnel_step: "intent",
        deal_in_progress: null,
        note: "客户约了下周面谈",
      }),
    );
  });

  it("sends the deal switch only when changed, and keeps a pending request on", async () => {
    const onSubmit = vi.fn();
    const view = renderIn(
      "zh-CN",
      <StageControl value={{ stage_percent: 10, deal_in_progress: false, deal_mark: { status: "pending" } }} onSubmit={onSubmit} />,
    );
    const deal = screen.getByLabelText("成交进行中", { selector: "button" });
    expect(deal).toHaveAttribute("aria-checked", "true");
    fireEvent.click(screen.getByText("推进阶段", { selector: "button span" }));
    await waitFor(() => expect(onSubmit).toHaveBeenLastCalledWith(expect.objectContaining({ deal_in_progress: null })));
    view.unmount();
    renderIn("zh-CN", <StageControl value={{ stage_percent: 10, deal_in_progress: false, deal_mark: null }} onSubmit={onSubmit} />);
    fireEvent.click(screen.getByLabelText("成交进行中", { selector: "button" }));
    fireEvent.click(screen.getByText("推进阶段", { selector: "button span" }));
    await waitFor(() => expect(onSubmit).toHaveBeenLastCalledWith(expect.objectContaining({ deal_in_progress: true })));
  });
});
