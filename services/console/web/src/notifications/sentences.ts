import { translate, type Lang } from "../i18n";
import type { MessageKey } from "../i18n/messages";
import { NOTIFICATION_KINDS, type AppNotification, type NotificationKind } from "./types";

function text(subject: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = subject[name];
    if (typeof value === "string" && value.trim()) return value;
    if (typeof value === "number") return String(value);
  }
  return undefined;
}

function number(subject: Record<string, unknown>, ...names: string[]): number | undefined {
  for (const name of names) {
    const value = subject[name];
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return undefined;
}

function when(lang: Lang, iso: string | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(lang, { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" }).format(date);
}

/** The title and body of a notification in a language, made from its kind and subject (the BFF sends data). */
export function notificationSentence(
  notification: Pick<AppNotification, "kind" | "subject">,
  lang: Lang,
): { title: string; body: string } {
  const t = (key: MessageKey, vars?: Record<string, string | number>) => translate(lang, key, vars);
  const s = notification.subject ?? {};
  const zh = lang === "zh-CN";
  const lead = text(s, "lead_name", "name", "lead_id") ?? t("notif.aLead");
  const tip = text(s, "tip_title", "title", "tip_id") ?? t("notif.aTip");
  const quoted = (value: string) => (zh ? `「${value}」` : `“${value}”`);
  const kind = (NOTIFICATION_KINDS as readonly string[]).includes(notification.kind)
    ? (notification.kind as NotificationKind)
    : undefined;
  if (!kind) return { title: t("notif.unknown.title"), body: t("notif.unknown.body") };
  const clause = (value: string | undefined) => (value ? (zh ? `（${value}）` : ` (${value})`) : "");
  const vars: Record<string, string | number> = {
    lead: quoted(lead),
    tip: quoted(tip),
    at: when(lang, text(s, "deadline", "at", "reclaim_at")),
    signal: clause(text(s, "signal", "detail", "hot_kind")),
    reason: clause(text(s, "reason", "detail")),
    step: clause(text(s, "step", "funnel_step")),
    from: text(s, "from_name", "from_user_id", "from") ?? t("notif.someone"),
    amount: number(s, "amount", "coins") ?? t("notif.some"),
  };
  if (kind === "approval_decided") {
    const decision = text(s, "decision", "status");
    vars.decision =
      decision === "approved" ? t("notif.approved") : decision === "rejected" ? t("notif.rejected") : t("notif.decided");
  }
  return { title: t(`notif.${kind}.title`), body: t(`notif.${kind}.body`, vars) };
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
      keys.push(["leads"], ["agent"]);
      if (s.lead_id) keys.push(["lead", s.lead_id]);
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
      keys.push(["wallet"]);
      break;
  }
  return keys;
}
