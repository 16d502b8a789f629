import { bffFetch } from "../api/http";
import type { NotificationPage } from "./types";

export const notificationsKey = ["notifications"] as const;

export function listNotifications(limit = 20): Promise<NotificationPage> {
  return bffFetch<NotificationPage>(`/v1/notifications?limit=${limit}`);
}

export function markRead(seq: number): Promise<unknown> {
  return bffFetch(`/v1/notifications/${seq}/read`, { method: "POST" });
}

export function markAllRead(): Promise<unknown> {
  return bffFetch("/v1/notifications:read-all", { method: "POST" });
}
