import { BellOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { PageFallback } from "../components/PageFallback";
import { useI18n } from "../i18n";
import { usePopup } from "../layout/usePopup";
import { listNotifications, markAllRead, markRead, notificationsKey } from "./api";

// The list (antd List, Empty) loads when the bell is first opened: it is not in the initial bundle.
const NotificationList = lazy(() => import("./NotificationList"));

export function NotificationBell() {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const { open, setOpen, box, button } = usePopup();
  const list = useQuery({ queryKey: notificationsKey, queryFn: () => listNotifications(20), refetchInterval: 120_000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: notificationsKey });
  const readOne = useMutation({ mutationFn: markRead, onSuccess: refresh });
  const readAll = useMutation({ mutationFn: markAllRead, onSuccess: refresh });
  const unread = list.data?.unread ?? 0;

  return (
    <div className="header-popup" ref={box}>
      <button
        ref={button}
        type="button"
        className="header-button"
        aria-expanded={open}
        aria-label={t("notif.bell", { count: unread })}
        onClick={() => setOpen(!open)}
      >
        <BellOutlined aria-hidden className="header-icon" />
        {unread ? (
          <span className="bell-count" aria-hidden>
            {unread > 99 ? "99+" : unread}
          </span>
        ) : null}
      </button>
      {open ? (
        <div role="dialog" aria-label={t("notif.title")} className="header-panel">
          <div className="notification-head">
            <span>{t("notif.title")}</span>
            <button type="button" className="link-button" disabled={!unread} onClick={() => readAll.mutate()}>
              {t("notif.readAll")}
            </button>
          </div>
          <Suspense fallback={<PageFallback />}>
            <NotificationList
              items={list.data?.items ?? []}
              loading={list.isLoading}
              error={list.error ?? readOne.error ?? readAll.error}
              onRead={(seq) => readOne.mutate(seq)}
            />
          </Suspense>
        </div>
      ) : null}
    </div>
  );
}
