import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { TierView } from "../api/clients";
import { translate } from "../i18n";
import { renderIn } from "../test/render";
import { TierLock, tierLockReasons } from "./TierLock";

const tier = (over: Partial<TierView>): TierView => ({
  tier_id: "gold",
  name: "金牌线索",
  filter: {},
  grades: ["A", "B"],
  min_worked_minutes: 120,
  pool_ids: ["p1"],
  may_open: false,
  why_not: "tier gold opens for grades AB; yours is C",
  ...over,
});
const zh = (key: Parameters<typeof translate>[1], vars?: Record<string, string | number>) => translate("zh-CN", key, vars);

describe("tier lock reasons", () => {
  it("names the grades needed and the agent's own grade", () => {
    expect(tierLockReasons(zh, tier({ min_worked_minutes: 0 }), { grade: "C", worked_minutes_today: 30 })).toEqual([
      "该层级对等级 A/B 开放，你目前的等级是 C。",
    ]);
  });

  it("says how much more time to work today", () => {
    expect(tierLockReasons(zh, tier({ grades: [] }), { grade: "C", worked_minutes_today: 80.5 })).toEqual([
      "今天需工作满 2 小时才能打开，你已工作 1 小时 20 分钟（还差 40 分钟）。",
    ]);
  });

  it("falls back to the allocator's reason when its own facts find none", () => {
    expect(tierLockReasons(zh, tier({ grades: [], min_worked_minutes: 0, why_not: "pool empty" }), { grade: "A" })).toEqual([
      "pool empty",
    ]);
  });

  it("renders an open tier as open, a locked one with its reasons", () => {
    renderIn("en", <TierLock tier={tier({ may_open: true })} agent={{ grade: "A" }} />);
    expect(screen.getByText("Open")).toBeInTheDocument();
    renderIn("en", <TierLock tier={tier({ min_worked_minutes: 0 })} agent={{ grade: null, worked_minutes_today: 0 }} />);
    expect(screen.getByText("Locked")).toBeInTheDocument();
    expect(screen.getByText("This tier opens for grades A/B; you have no grade yet.")).toBeInTheDocument();
  });
});
