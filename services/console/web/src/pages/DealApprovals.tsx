import { useQueries, useQuery } from "@tanstack/react-query";
import { Card, List } from "antd";
import { Link } from "react-router-dom";
import { leadQuery } from "../api/queries";
import { useI18n } from "../i18n";
import { notificationsKey } from "../notifications/api";
import { bffFetch } from "../api/http";
import type { NotificationPage } from "../notifications/types";

// How many of the supervisor's latest notifications are searched for requests (older ones: the bell's list).
const SCAN = 50;

/** A supervisor's "waiting for your approval": the deal-in-progress requests they were told of
 * (deal_mark_requested notifications) whose lead still has that request pending (the allocator's LeadView).
 * Each links to the lead page, where the supervisor approves or refuses. */
export default function DealApprovals() {
  const { t, lang } = useI18n();
  const told = useQuery({
    queryKey: [...notificationsKey, "deal-mark-requests"],
    queryFn: () => bffFetch<NotificationPage>(`/v1/notifications?limit=${SCAN}`),
  });
  const requests = new Map<string, { request: string; agent: string; note?: string }>();
  for (const item of told.data?.items ?? []) {
    const s = item.subject ?? {};
    if (item.kind !== "deal_mark_requested" || typeof s.lead_id !== "string" || requests.has(s.lead_id)) continue;
    requests.set(s.lead_id, { request: String(s.request_id), agent: String(s.agent_id ?? ""), note: s.note as string | undefined });
  }
  const ids = [...requests.keys()];
  const leads = useQueries({ queries: ids.map((id) => ({ ...leadQuery(id), retry: false })) });
  const waiting = ids.flatMap((id, index) => {
    const lead = leads[index]?.data;
    const asked = requests.get(id);
    if (!lead || !asked || lead.deal_mark?.status !== "pending" || lead.deal_mark.request_id !== asked.request) return [];
    return [{ id, name: lead.name || id, agent: asked.agent, note: lead.deal_mark.note ?? undefined }];
  });
  if (!waiting.length) return null;
  const quoted = (value: string) => (lang === "zh-CN" ? `「${value}」` : `“${value}”`);
  const clause = (value?: string) => (value?.trim() ? (lang === "zh-CN" ? `（${value.trim()}）` : ` (${value.trim()})`) : "");
  return (
    <Card title={<h2 className="card-heading">{t("deal.waiting")}</h2>} size="small">
      <List
        size="small"
        dataSource={waiting}
        renderItem={(row) => (
          <List.Item>
            <Link to={`/leads/${row.id}`}>
              {t("notif.deal_mark_requested.body", { agent: row.agent, lead: quoted(row.name), note: clause(row.note) })}
            </Link>
          </List.Item>
        )}
      />
    </Card>
  );
}
