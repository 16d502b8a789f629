import type { HistoryEntry } from "../api/clients";
import { FUNNEL_STEPS, SIGNAL_KINDS, type FunnelStep, type SignalKind } from "../api/clients";
import type { Lang, Translate } from "../i18n";

const RECLAIM_WHY = {
  not_processed: "notif.why.not_processed",
  not_converted: "notif.why.not_converted",
  dialled_without_converting: "notif.why.dialled_without_converting",
} as const;
const DEAL_MARK = { pending: "history.dealAsked", approved: "history.dealApproved", refused: "history.dealRefused" } as const;

/** One history entry in words (the allocator's LeadHistory: fields a kind does not use are null). */
export function historyWords(t: Translate, lang: Lang, entry: HistoryEntry): string {
  const zh = lang === "zh-CN";
  const clause = (value: string | null | undefined) => (value ? (zh ? `（${value}）` : ` (${value})`) : "");
  const agent = entry.agent_id ?? t("history.someone");
  switch (entry.kind) {
    case "claimed":
    case "assigned":
      return t(`history.${entry.kind}`, { agent, via: clause(entry.via) });
    case "returned":
    case "closed":
    case "reopened":
      return t(`history.${entry.kind}`, { agent, reason: clause(entry.reason) });
    case "reclaimed":
      return t("history.reclaimed", {
        agent,
        reason: clause(entry.reclaim_kind ? t(RECLAIM_WHY[entry.reclaim_kind]) : entry.reason),
      });
    case "won":
      return t("history.won", {
        agent,
        amount: ((entry.amount_fen ?? 0) / 100).toLocaleString(lang, { minimumFractionDigits: 2 }),
      });
    case "win_confirmed":
      return t("history.winConfirmed", {
        agent,
        amount: ((entry.amount_fen ?? 0) / 100).toLocaleString(lang, { minimumFractionDigits: 2 }),
        via: clause(entry.order_ref ?? null),
      });
    case "win_rejected":
      return t("history.winRejected", { agent, reason: clause(entry.reason) });
    case "call":
      return entry.connected
        ? t("history.callConnected", { agent, duration: entry.duration_seconds ?? 0 })
        : t("history.callMissed", { agent });
    case "stage": {
      const step = FUNNEL_STEPS.includes(entry.funnel_step as FunnelStep) ? t(`funnel.${entry.funnel_step as FunnelStep}`) : null;
      const parts = [step, entry.deal_in_progress ? t("history.deal") : null].filter(Boolean).join(zh ? "，" : ", ");
      return t("history.stage", { percent: entry.stage_percent ?? 0, step: clause(parts) });
    }
    case "signal": {
      const kind = entry.signal_kind;
      const words = kind && SIGNAL_KINDS.includes(kind) ? t(`signal.${kind as SignalKind}`) : (kind ?? "");
      return t("history.signal", { signal: entry.detail ? `${words}: ${entry.detail}` : words });
    }
    case "deal_mark":
      return t(entry.deal_mark_status ? DEAL_MARK[entry.deal_mark_status] : "history.deal", {
        agent,
        reason: clause(entry.reason),
      });
    default:
      return String((entry as { kind: string }).kind);
  }
}

/** The timeline dot's colour: green for what the agent gained, red for what they lost. */
export function historyColor(kind: HistoryEntry["kind"]): string {
  if (kind === "claimed" || kind === "assigned" || kind === "won" || kind === "win_confirmed") return "green";
  if (kind === "returned" || kind === "reclaimed" || kind === "closed" || kind === "win_rejected") return "red";
  if (kind === "signal") return "orange";
  return "blue";
}
