import { useQueryClient } from "@tanstack/react-query";
import { Button, Empty, List, Typography } from "antd";
import { Link } from "react-router-dom";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n } from "../i18n";
import { cachedNames } from "./names";
import { notificationSentence } from "./sentences";
import type { AppNotification } from "./types";

function safeLink(link: string | null | undefined): string | undefined {
  return link && link.startsWith("/") && !link.startsWith("//") ? link : undefined;
}

export default function NotificationList({
  items,
  loading,
  error,
  onRead,
}: {
  items: AppNotification[];
  loading: boolean;
  error: unknown;
  onRead: (seq: number) => void;
}) {
  const queryClient = useQueryClient();
  const { t, lang } = useI18n();
  return (
    <div className="notification-panel">
      {error ? <ProblemAlert error={error} /> : null}
      <List<AppNotification>
        dataSource={items}
        loading={loading}
        locale={{ emptyText: <Empty description={t("notif.empty")} /> }}
        renderItem={(item) => {
          const { title, body } = notificationSentence(item, lang, cachedNames(queryClient, item.subject));
          const link = safeLink(item.link);
          return (
            <List.Item
              className={item.read ? "notification-read" : "notification-unread"}
              actions={
                item.read
                  ? []
                  : [
                      <Button key="read" size="small" type="link" onClick={() => onRead(item.seq)}>
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
}
