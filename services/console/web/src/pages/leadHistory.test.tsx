import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { HISTORY_KINDS, type HistoryEntry } from "../api/clients";
import { translate, type Lang } from "../i18n";
import type { MessageKey } from "../i18n/messages";
import { renderIn } from "../test/render";
import { historyWords } from "./leadHistory";
import { ScoreBreakdown } from "./ScoreBreakdown";

const t = (lang: Lang) => (key: MessageKey, vars?: Record<string, string | number>) => translate(lang, key, vars);
const at = "2025-03-01T08:00:00Z";
const entry = (fields: Partial<HistoryEntry> & Pick<HistoryEntry, "kind">): HistoryEntry => ({ at, ...fields });

describe("lead history words", () => {
  it("says who got the lead and how, in both languages", () => {
    const claimed = entry({ kind: "claimed", agent_id: "A001", via: "tier-gold" });
    expect(historyWords(t("zh-CN"), "zh-CN", claimed)).toBe("A001 领取（tier-gold）");
    expect(historyWords(t("en"), "en", claimed)).toBe("Claimed by A001 (tier-gold)");
  });

  it("tells a call, a stage move, a reclaim, a win and a signal", () => {
    expect(historyWords(t("en"), "en", entry({ kind: "call", agent_id: "A1", connected: true, duration_seconds: 75 }))).toBe(
      "Call by A1: connected, 75 s",
    );
    expect(historyWords(t("zh-CN"), "zh-CN", entry({ kind: "call", agent_id: "A1", connected: false }))).toBe("A1 拨打，未接通");
    expect(
      historyWords(t("zh-CN"), "zh-CN", entry({ kind: "stage", stage_percent: 40, funnel_step: "intent", deal_in_progress: true })),
    ).toBe("阶段推进到 40%（有意向，成交进行中）");
    expect(historyWords(t("en"), "en", entry({ kind: "reclaimed", agent_id: "A1", reclaim_kind: "not_converted" }))).toBe(
      "Reclaimed from A1 (the stage did not move)",
    );
    expect(historyWords(t("en"), "en", entry({ kind: "won", agent_id: "A1", amount_fen: 123450 }))).toBe("Won by A1: ¥1,234.50");
    expect(
      historyWords(t("zh-CN"), "zh-CN", entry({ kind: "win_confirmed", agent_id: "S1", amount_fen: 600000, order_ref: "SO-7" })),
    ).toBe("S1 确认成单 6,000.00 元（SO-7）");
    expect(historyWords(t("en"), "en", entry({ kind: "win_rejected", agent_id: "S1", via: "supervisor", reason: "no payment" }))).toBe(
      "Win rejected by S1 (no payment); held again",
    );
    expect(
      historyWords(t("en"), "en", entry({ kind: "reclaimed", agent_id: "A1", reclaim_kind: "dialled_without_converting" })),
    ).toBe("Reclaimed from A1 (dialled day after day without converting)");
    expect(historyWords(t("zh-CN"), "zh-CN", entry({ kind: "deal_mark", agent_id: "A1", deal_mark_status: "pending" }))).toBe(
      "A1 申请标记商机进行中",
    );
    expect(
      historyWords(t("en"), "en", entry({ kind: "deal_mark", agent_id: "S1", deal_mark_status: "refused", reason: "no contract" })),
    ).toBe("Deal in progress refused by S1 (no contract)");
    expect(historyWords(t("zh-CN"), "zh-CN", entry({ kind: "signal", signal_kind: "level_up", detail: "VIP2" }))).toBe(
      "客户动态：会员升级: VIP2",
    );
  });

  it("has words for every kind in both languages, with no placeholder left", () => {
    for (const kind of HISTORY_KINDS) {
      for (const lang of ["zh-CN", "en"] as const) {
        const words = historyWords(t(lang), lang, entry({ kind }));
        expect(words).not.toMatch(/[{}]|history\.|undefined|null/);
        expect(words).not.toBe(kind);
      }
    }
  });
});

describe("score breakdown", () => {
  it("lists each feature's points and the total, and the model's share", () => {
    renderIn(
      "en",
      <ScoreBreakdown
        lead={{
          score: 72,
          score_parts: [
            { feature: "source", value: "referral", points: 30 },
            { feature: "region", value: "上海", points: 12.5 },
          ],
          score_model: { probability_won: 0.4, blend_weight: 0.3, outcomes_used: 812 },
        }}
      />,
    );
    expect(screen.getByRole("columnheader", { name: "Feature" })).toBeInTheDocument();
    expect(screen.getByRole("cell", { name: "referral" })).toBeInTheDocument();
    expect(screen.getByRole("cell", { name: "12.5" })).toBeInTheDocument();
    expect(screen.getByText("Total 72")).toBeInTheDocument();
    expect(screen.getByText("Model: 40% chance to win, weight 0.3 (from 812 outcomes)")).toBeInTheDocument();
  });

  it("says so when the score has no breakdown", () => {
    renderIn("zh-CN", <ScoreBreakdown lead={{ score: 50, score_parts: [], score_model: null }} />);
    expect(screen.getByText("没有评分明细")).toBeInTheDocument();
  });
});
