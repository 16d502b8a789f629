import { useQueries } from "@tanstack/react-query";
import { Card, List, Typography } from "antd";
import dayjs from "dayjs";
import { Link } from "react-router-dom";
import { teamDealMarksQuery, useMyTeams, type DealMarkRow } from "../api/teamQueries";
import { useI18n } from "../i18n";

const format = (iso: string | null | undefined) => (iso ? dayjs(iso).format("YYYY-MM-DD HH:mm") : "—");

/** A supervisor's "waiting for your approval": the deal-in-progress requests of their team(s) still pending,
 * as the allocator lists them (GET /v1/teams/{id}/deal-marks?state=requested: every request however old, the
 * same for every supervisor of the team; the deal-mark notifications refresh it). Each links to the lead
 * page, where the supervisor approves or refuses. */
export default function DealApprovals() {
  const { t, lang } = useI18n();
  const { teams } = useMyTeams();
  const lists = useQueries({ queries: teams.map((team) => teamDealMarksQuery(team)) });
  const waiting: DealMarkRow[] = lists.flatMap((list) => list.data ?? []);
  if (!waiting.length) return null;
  const quoted = (value: string) => (lang === "zh-CN" ? `「${value}」` : `“${value}”`);
  const clause = (value?: string | null) =>
    value?.trim() ? (lang === "zh-CN" ? `（${value.trim()}）` : ` (${value.trim()})`) : "";
  return (
    <Card title={<h2 className="card-heading">{t("deal.waiting")}</h2>} size="small">
      <List
        size="small"
        dataSource={waiting}
        rowKey={(row) => row.request_id}
        renderItem={(row) => (
          <List.Item>
            <span>
              <Link to={`/leads/${encodeURIComponent(row.lead_id)}`}>
                {t("notif.deal_mark_requested.body", {
                  agent: row.agent_id,
                  lead: quoted(row.customer || row.lead_id),
                  note: clause(row.reason),
                })}
              </Link>{" "}
              <Typography.Text type="secondary">
                {t("deal.requestedAt", { at: format(row.requested_at) })}
                {row.expires_at ? ` · ${t("deal.lapses", { at: format(row.expires_at) })}` : ""}
              </Typography.Text>
            </span>
          </List.Item>
        )}
      />
    </Card>
  );
}
