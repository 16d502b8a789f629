import { translate, type Lang } from "../i18n";
import type { SubjectNames } from "./names";
import type { MessageKey } from "../i18n/messages";
import { NOTIFICATION_KINDS, type AppNotification, type NotificationKind } from "./types";

type Subject = Record<string, unknown>;

function text(subject: Subject, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = subject[name];
    if (typeof value === "string" && value.trim()) return value;
    if (typeof value === "number") return String(value);
  }
  return undefined;
}

function number(subject: Subject, name: string): number | undefined {
  const value = subject[name];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function when(lang: Lang, iso: string | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(lang, { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" }).format(date);
}

const SIGNALS = ["unpaid_order", "long_browsing", "redemption", "level_up"] as const;
const REFUSALS = ["insufficient_funds", "daily_limit", "self_purchase", "transfer_id_conflict"] as const;
const LIMITS = ["buyer_daily_count", "buyer_daily_coins", "pair_daily_count", "pair_daily_coins"] as const;
const RECLAIM_KINDS = ["not_processed", "not_converted", "dialled_without_converting"] as const;
const RATE_STEPS = ["connect_60s", "intent", "agreed_visit", "visit", "plan", "paid"] as const;
const CALL_STAGES = ["opening", "quoting", "objection_handling", "service_introduction", "closing"] as const;
const SOURCES = ["allocation", "bonus", "sale"] as const;
const LEVELS = ["supervisor", "manager", "operator"] as const;

function oneOf<T extends string>(list: readonly T[], value: string | undefined): T | undefined {
  return value !== undefined && (list as readonly string[]).includes(value) ? (value as T) : undefined;
}

function percent(value: number | undefined): string {
  return value === undefined ? "—" : `${Math.round(value * 1000) / 10}%`;
}

/** The title and body of a notification in a language, made from its kind and the subject keys the BFF's
 * mappings send for that kind (console/notifications.py; listed in ./types.ts). */
export function notificationSentence(
  notification: Pick<AppNotification, "kind" | "subject">,
  lang: Lang,
  names: SubjectNames = {},
): { title: string; body: string } {
  const t = (key: MessageKey, vars?: Record<string, string | number>) => translate(lang, key, vars);
  const s: Subject = notification.subject ?? {};
  const zh = lang === "zh-CN";
  const quoted = (value: string) => (zh ? `「${value}」` : `“${value}”`);
  const clause = (value: string | undefined) => (value ? (zh ? `（${value}）` : ` (${value})`) : "");
  const kind = oneOf(NOTIFICATION_KINDS, notification.kind) as NotificationKind | undefined;
  if (!kind) return { title: t("notif.unknown.title"), body: t("notif.unknown.body") };

  const leadId = text(s, "lead_id");
  const tipId = text(s, "tip_id");
  const vars: Record<string, string | number> = {
    lead: names.lead || leadId ? quoted(names.lead || (leadId as string)) : t("notif.aLead"),
    tip: names.tip || tipId ? quoted(names.tip || (tipId as string)) : t("notif.aTip"),
  };
  switch (kind) {
    case "hot_lead": {
      const signal = oneOf(SIGNALS, text(s, "signal_kind"));
      const detail = text(s, "detail");
      const words = signal ? t(`signal.${signal}`) : undefined;
      vars.signal = clause(words && detail ? `${words}: ${detail}` : (words ?? detail));
      break;
    }
    case "reclaim_warning": {
      vars.at = when(lang, text(s, "reclaim_at"));
      const reclaimKind = oneOf(RECLAIM_KINDS, text(s, "reclaim_kind"));
      vars.unless =
        reclaimKind === "not_processed" ? t("notif.unless.call") : reclaimKind ? t("notif.unless.stage") : "";
      break;
    }
    case "lead_assigned": {
      const grade = text(s, "lead_grade");
      const score = number(s, "score");
      vars.grade = grade && score !== undefined ? clause(t("notif.gradeScore", { grade, score: Math.round(score) })) : "";
      break;
    }
    case "lead_reclaimed": {
      const reclaimKind = oneOf(RECLAIM_KINDS, text(s, "reclaim_kind"));
      vars.why = clause(reclaimKind ? t(`notif.why.${reclaimKind}`) : undefined);
      break;
    }
    case "purchase_refused": {
      const reason = oneOf(REFUSALS, text(s, "reason"));
      const limit = oneOf(LIMITS, text(s, "limit"));
      const limitValue = number(s, "limit_value");
      vars.reason = clause(
        reason === "daily_limit" && limit && limitValue !== undefined
          ? t(`notif.limit.${limit}`, { value: limitValue })
          : reason
            ? t(`notif.refused.${reason}`)
            : text(s, "message"),
      );
      break;
    }
    case "tip_recommended": {
      const tips = Array.isArray(s.tips) ? (s.tips as Subject[]) : [];
      const title = tips.length === 1 ? text(tips[0], "title") : undefined;
      vars.tip =
        tips.length > 1
          ? t("notif.nTips", { count: tips.length })
          : t("notif.namedTip", { tip: quoted(title ?? tipId ?? t("notif.aTip")) });
      const step = oneOf(RATE_STEPS, text(s, "step"));
      // A push from a call has no funnel step: it names the call stage the call ended at without progress.
      const stage = oneOf(CALL_STAGES, text(s, "stage"));
      const stageWords = stage ? t(`stage.call.${stage}`) : undefined;
      vars.step = step
        ? clause(
            t("notif.stepRates", {
              step: t(`day.rate.${step}`),
              agent: percent(number(s, "agent_rate")),
              team: percent(number(s, "team_rate")),
            }),
          )
        : stageWords
          ? clause(t("notif.callStage", { stage: zh ? stageWords : stageWords.toLowerCase() }))
          : "";
      break;
    }
    case "tip_forwarded":
      vars.from = text(s, "from_user_id") ?? t("notif.someone");
      vars.note = clause(text(s, "note"));
      break;
    case "coins_received": {
      vars.amount = number(s, "amount") ?? t("notif.some");
      const source = oneOf(SOURCES, text(s, "source"));
      vars.reason = clause(source ? t(`notif.source.${source}`) : undefined);
      break;
    }
    case "approval_decided": {
      const decision = text(s, "decision");
      const amount = number(s, "amount");
      vars.decision =
        decision === "approved"
          ? amount
            ? t("notif.approvedCoins", { amount })
            : t("notif.approved")
          : decision === "rejected"
            ? t("notif.rejected")
            : t("notif.decided");
      vars.reason = clause(text(s, "reason"));
      break;
    }
    case "deal_mark_requested":
      vars.agent = text(s, "agent_id") ?? t("notif.someone");
      vars.note = clause(text(s, "note"));
      break;
    case "deal_mark_decided": {
      const decision = text(s, "decision");
      vars.decision =
        decision === "approved"
          ? t("notif.dealMarkUntil", { at: when(lang, text(s, "expires_at")) })
          : decision === "refused"
            ? t("notif.rejected")
            : t("notif.decided");
      vars.reason = clause(text(s, "reason"));
      break;
    }
    case "approval_waiting": {
      const level = oneOf(LEVELS, text(s, "level"));
      vars.level = level ? t(`notif.level.${level}`) : t("notif.level.next");
      vars.user = text(s, "user_id") ?? t("notif.someone");
      return {
        title: t("notif.approval_waiting.title"),
        body: t(text(s, "for") === "approver" ? "notif.approval_waiting.approver" : "notif.approval_waiting.requester", vars),
      };
    }
    case "unmask_budget_exceeded":
      vars.user = text(s, "user_id") ?? t("notif.someone");
      vars.count = number(s, "count") ?? t("notif.some");
      vars.budget = number(s, "budget") ?? t("notif.some");
      return {
        title: t("notif.unmask_budget_exceeded.title"),
        body: t(text(s, "for") === "supervisor" ? "notif.unmask_budget_exceeded.supervisor" : "notif.unmask_budget_exceeded.user", vars),
      };
    case "win_confirmed":
      vars.amount = ((number(s, "amount_fen") ?? 0) / 100).toLocaleString(lang, { minimumFractionDigits: 2 });
      vars.by = text(s, "confirmed_by") === "order" ? t("notif.byOrder") : t("notif.bySupervisor");
      break;
    case "win_rejected":
      vars.amount = ((number(s, "declared_amount_fen") ?? 0) / 100).toLocaleString(lang, { minimumFractionDigits: 2 });
      vars.by = text(s, "rejected_by") === "order" ? t("notif.byLostOrder") : t("notif.bySupervisor");
      vars.reason = clause(text(s, "reason"));
      break;
    case "purchase_granted":
      break;
  }
  // A lead the agent's own application (轮询申领) got: assigned by the agent itself.
  const body = kind === "lead_assigned" && s.applied === true ? "notif.lead_assigned.applied" : (`notif.${kind}.body` as const);
  return { title: t(`notif.${kind}.title`), body: t(body, vars) };
}

/** The TanStack query keys a live notification makes stale. */
export function affectedQueries(notification: Pick<AppNotification, "kind" | "subject">): unknown[][] {
  const s = notification.subject ?? {};
  const keys: unknown[][] = [["notifications"]];
  switch (notification.kind) {
    case "hot_lead":
    case "reclaim_warning":
    case "lead_assigned":
    case "lead_reclaimed":
    case "deal_mark_requested":
    case "deal_mark_decided":
    case "win_confirmed":
    case "win_rejected":
    case "lead_do_not_call":
    case "unmask_budget_exceeded":
      keys.push(["leads"], ["agent"], ["applications"]);
      if (s.lead_id) keys.push(["lead", s.lead_id], ["lead-history", s.lead_id]);
      // the supervisors' waiting list (GET /v1/teams/{id}/deal-marks)
      if (notification.kind === "deal_mark_requested" || notification.kind === "deal_mark_decided")
        keys.push(["deal-marks"]);
      break;
    case "purchase_granted":
    case "purchase_refused":
      keys.push(["wallet"], ["tips"]);
      if (s.tip_id) keys.push(["tip", s.tip_id], ["purchase", s.tip_id]);
      break;
    case "tip_recommended":
    case "tip_forwarded":
      keys.push(["tips"]);
      break;
    case "coins_received":
    case "approval_decided":
    case "approval_waiting":
      keys.push(["wallet"]);
      break;
  }
  return keys;
}
