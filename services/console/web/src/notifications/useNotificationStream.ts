import { useQueryClient } from "@tanstack/react-query";
import { App } from "antd";
import { useEffect, useRef } from "react";
import { useNavigate } from "react-router-dom";
import { useI18n } from "../i18n";
import { resolveNames } from "./names";
import { affectedQueries, notificationSentence } from "./sentences";
import type { AppNotification } from "./types";

/** Listens to /v1/notifications/stream: a toast per live notification, and the queries it touches refreshed.
 * The browser's EventSource sends the cookie, and Last-Event-ID when it reconnects. */
export function useNotificationStream(enabled: boolean): void {
  const queryClient = useQueryClient();
  const { notification } = App.useApp();
  const navigate = useNavigate();
  const { lang } = useI18n();
  const langRef = useRef(lang);
  langRef.current = lang;

  useEffect(() => {
    if (!enabled || typeof EventSource === "undefined") return;
    const source = new EventSource("/v1/notifications/stream", { withCredentials: true });
    const toast = async (item: AppNotification) => {
      const { title, body } = notificationSentence(item, langRef.current, await resolveNames(queryClient, item));
      notification.info({
        key: `notification-${item.seq}`,
        message: title,
        description: body,
        role: "status",
        onClick: item.link ? () => navigate(item.link as string) : undefined,
      });
    };
    const onNotification = (event: MessageEvent<string>) => {
      let item: AppNotification;
      try {
        item = JSON.parse(event.data) as AppNotification;
      } catch {
        return;
      }
      void toast(item);
      for (const key of affectedQueries(item)) void queryClient.invalidateQueries({ queryKey: key });
    };
    source.addEventListener("notification", onNotification as EventListener);
    return () => {
      source.removeEventListener("notification", onNotification as EventListener);
      source.close();
    };
  }, [enabled, navigate, notification, queryClient]);
}
