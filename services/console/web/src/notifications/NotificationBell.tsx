import { BellOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge, Button, Empty, List, Popover, Typography } from "antd";
import { Link } from "react-router-dom";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n } from "../i18n";
import { listNotifications, markAllRead, markRead, notificationsKey } from "./api";
import { notificationSentence } from "./sentences";
import type { AppNotification } from "./types";

function safeLink(link: string | null | undefined): string | undefined {
  return link && link.startsWith("/") && !link.startsWith("//") ? link : undefined;
}

export function NotificationBell() {
  const { t, lang } = useI18n();
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: notificationsKey, queryFn: () => listNotifications(20), refetchInterval: 120_000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: notificationsKey });
  const readOne = useMutation({ mutationFn: markRead, onSuccess: refresh });
  const readAll = useMutation({ mutationFn: markAllRead, onSuccess: refresh });
  const unread = list.data?.unread ?? 0;

  const content = (
    <div className="notification-panel">
      {list.error ? <ProblemAlert error={list.error} /> : null}
      {readOne.error || readAll.error ? <ProblemAlert error={readOne.error ?? readAll.error} /> : null}
      <List<AppNotification>
        dataSource={list.data?.items ?? []}
        loading={list.isLoading}
        locale={{ emptyText: <Empty description={t("notif.empty")} /> }}
        renderItem={(item) => {
          const { title, body } = notificationSentence(item, lang);
          const link = safeLink(item.link);
          return (
            <List.Item
              className={item.read ? "notification-read" : "notification-unread"}
              actions={
                item.read
                  ? []
                  : [
                      <Button key="read" size="small" type="link" onClick={() => readOne.mutate(item.seq)}>
                        {t("notif.markRead")}
                      </Button>,
                    ]
              }
            >
              <List.Item.Meta
                title={link ? <Link to={link}>{title}</Link> : title}
                description={
                  <>
                    <div>{body}</div>
                    <Typography.Text type="secondary">{new Date(item.at).toLocaleString(lang)}</Typography.Text>
                  </>
                }
              />
            </List.Item>
          );
        }}
      />
    </div>
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
