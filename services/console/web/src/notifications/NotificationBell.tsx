import { BellOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge, Button, Popover, Spin } from "antd";
import { lazy, Suspense } from "react";
import { useI18n } from "../i18n";
import { listNotifications, markAllRead, markRead, notificationsKey } from "./api";

// The list (antd List, Empty) loads when the bell is first opened: it is not in the initial bundle.
const NotificationList = lazy(() => import("./NotificationList"));

export function NotificationBell() {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: notificationsKey, queryFn: () => listNotifications(20), refetchInterval: 120_000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: notificationsKey });
  const readOne = useMutation({ mutationFn: markRead, onSuccess: refresh });
  const readAll = useMutation({ mutationFn: markAllRead, onSuccess: refresh });
  const unread = list.data?.unread ?? 0;

  const content = (
    <Suspense fallback={<Spin />}>
      <NotificationList
        items={list.data?.items ?? []}
        loading={list.isLoading}
        error={list.error ?? readOne.error ?? readAll.error}
        onRead={(seq) => readOne.mutate(seq)}
      />
    </Suspense>
  );

  return (
    <Popover
      trigger="click"
      placement="bottomRight"
      title={
        <div className="notification-head">
          <span>{t("notif.title")}</span>
          <Button size="small" type="link" disabled={!unread} onClick={() => readAll.mutate()}>
            {t("notif.readAll")}
          </Button>
        </div>
      }
      content={content}
    >
      <Button type="text" aria-label={t("notif.bell", { count: unread })} className="header-button">
        <Badge count={unread} size="small" aria-hidden>
          <BellOutlined className="header-icon" />
        </Badge>
      </Button>
    </Popover>
  );
}
