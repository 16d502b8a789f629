/** A notification of the BFF (the README's contract; no OpenAPI document of the BFF is relied on yet). */
export const NOTIFICATION_KINDS = [
  "hot_lead",
  "reclaim_warning",
  "lead_assigned",
  "lead_reclaimed",
  "purchase_granted",
  "purchase_refused",
  "tip_recommended",
  "tip_forwarded",
  "coins_received",
  "approval_decided",
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export type Subject = Record<string, unknown> & { lead_id?: string; tip_id?: string };

export interface AppNotification {
  seq: number;
  id: string;
  kind: NotificationKind | string;
  title?: string | null;
  body?: string | null;
  link?: string | null;
  at: string;
  read: boolean;
  subject: Subject;
}

export interface NotificationPage {
  items: AppNotification[];
  unread: number;
  next_before?: number | string | null;
}
