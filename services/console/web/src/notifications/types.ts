/** A notification of the BFF (console/notifications.py: Notification, NotificationPage). Typed here until
 * the notification routes are in openapi/console.json. The BFF sends data (kind, subject), the app the words. */
export const NOTIFICATION_KINDS = [
  "hot_lead",
  "reclaim_warning",
  "lead_assigned",
  "lead_reclaimed",
  "lead_do_not_call",
  "purchase_granted",
  "purchase_refused",
  "tip_recommended",
  "tip_forwarded",
  "coins_received",
  "approval_decided",
  "deal_mark_requested",
  "deal_mark_decided",
  "approval_waiting",
  "win_confirmed",
  "win_rejected",
  "unmask_budget_exceeded",
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** Per kind, the keys the BFF's mappings put in `subject` (all values JSON; times as ISO strings):
 * hot_lead: lead_id, signal_kind, detail, routed, occurred_at
 * reclaim_warning: lead_id, reclaim_kind, reclaim_at, stage_percent
 * lead_assigned: lead_id, lead_grade, score, business_line, strategy, assigned_by
 * lead_reclaimed: lead_id, reclaim_kind, stage_percent, deadline
 * lead_do_not_call: lead_id, reason, business_line
 * purchase_granted: tip_id, purchase_id, version, price
 * purchase_refused: tip_id, purchase_id, price, reason, limit, limit_value, message
 * tip_recommended: tip_id, recommendation_id, trigger (request | window | call), step (none for a call), stage, agent_rate, team_rate, gap, tips[{tip_id, title, price, rating}]
 * tip_forwarded: tip_id, from_user_id, note
 * coins_received: source (allocation | bonus | sale), amount, and allocation_id... / draw_id / tip_id, transfer_id
 * approval_decided: request_id, decision (approved | rejected), amount, reason, decided_by
 * deal_mark_requested: lead_id, request_id, agent_id, note (to each supervisor who may decide)
 * deal_mark_decided: lead_id, request_id, decision (approved | refused), decided_by, reason, expires_at
 * approval_waiting: request_id, user_id, team_id, level (supervisor | manager | operator), approvals, levels,
 *   for (approver: asked to approve | requester: where the own request stands)
 * win_confirmed: lead_id, amount_fen, confirmed_by (order | supervisor), confirmer, order_ref
 * win_rejected: lead_id, declared_amount_fen, rejected_by (order: the CRM says it was lost | supervisor), rejecter,
 *   reason, order_ref (to the agent, who holds the lead again)
 * unmask_budget_exceeded: user_id, team_id, hour, count, budget, service,
 *   for (user: why its numbers are masked | supervisor: someone of the team went past the budget) */
export type Subject = Record<string, unknown> & { lead_id?: string; tip_id?: string | null };

export interface AppNotification {
  seq: number;
  id: string;
  kind: NotificationKind | string;
  /** Where in the app it leads: /leads/<id>, /leads, /tips/<id>, /tips, /wallet. */
  link: string;
  at: string;
  read: boolean;
  subject: Subject;
}

export interface NotificationPage {
  items: AppNotification[];
  unread: number;
  /** `before` of the next (older) page; null on the last page. */
  next_before: number | null;
}
