import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderIn } from "../test/render";
import { HotMarker } from "./LeadsPage";

describe("hot marker", () => {
  it("names the signal kind with its detail and time for screen readers", () => {
    renderIn("zh-CN", <HotMarker lead={{ hot: { kind: "unpaid_order", detail: "订单 88", at: "2025-03-01T08:00:00Z" } }} />);
    const marker = screen.getByTestId("hot-marker");
    expect(marker).toHaveTextContent(/^热: 下单未支付: 订单 88，/);
  });

  it("says an unknown kind as it came, and nothing without a signal", () => {
    const { unmount } = renderIn("en", <HotMarker lead={{ hot: null }} />);
    expect(screen.queryByTestId("hot-marker")).toBeNull();
    unmount();
    renderIn("en", <HotMarker lead={{ hot: { kind: "new_kind" as never, detail: null, at: "2025-03-01T08:00:00Z" } }} />);
    expect(screen.getByTestId("hot-marker")).toHaveTextContent(/^Hot: new_kind, /);
  });
});
