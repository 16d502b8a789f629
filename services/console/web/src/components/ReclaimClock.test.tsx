import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { translate, type Lang } from "../i18n";
import type { MessageKey } from "../i18n/messages";
import { renderIn } from "../test/render";
import { ReclaimClock, reclaimWords } from "./ReclaimClock";

const now = new Date("2025-03-01T08:00:00Z");
const later = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();
const t = (lang: Lang) => (key: MessageKey, vars?: Record<string, string | number>) => translate(lang, key, vars);

describe("reclaim clock words", () => {
  it("says days and hours and what stops it, in Chinese", () => {
    expect(reclaimWords(t("zh-CN"), { unless: "call", at: later(2 * 1440 + 3 * 60) }, now)).toBe(
      "2 天 3 小时后回收，除非拨打",
    );
  });

  it("says the same in English", () => {
    expect(reclaimWords(t("en"), { unless: "call", at: later(2 * 1440 + 3 * 60) }, now)).toBe(
      "back to the pool in 2 d 3 h unless called",
    );
  });

  it("asks for a stage move when the lead was called but stalls", () => {
    expect(reclaimWords(t("en"), { unless: "advance_stage", at: later(5 * 60 + 20) }, now)).toBe(
      "back to the pool in 5 h 20 min unless it moves a stage",
    );
    expect(reclaimWords(t("zh-CN"), { unless: "advance_stage", at: later(45) }, now)).toBe("45 分钟后回收，除非推进阶段");
  });

  it("says the lead is due when the time has passed", () => {
    expect(reclaimWords(t("zh-CN"), { unless: "call", at: later(-5) }, now)).toBe("已到回收时间，随时可能回收");
  });

  it("renders the words, and a dash without a clock", () => {
    renderIn("en", <ReclaimClock reclaim={{ unless: "call", at: later(1440) }} now={now} />);
    expect(screen.getByTestId("reclaim-clock")).toHaveTextContent("back to the pool in 1 d unless called");
  });
});
