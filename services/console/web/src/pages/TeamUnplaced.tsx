import { useQuery } from "@tanstack/react-query";
import { Table, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import dayjs from "dayjs";
import { useState } from "react";
import { Link } from "react-router-dom";
import { allocator } from "../api/clients";
import { unwrap } from "../api/http";
import type { UnplacedLead } from "../api/teamQueries";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n, type Translate } from "../i18n";
import { pushMissedWords } from "./pushMissed";

const PAGE = 20;

function columns(t: Translate): ColumnsType<UnplacedLead> {
  return [
    {
      title: t("team.lead"),
      key: "lead",
      render: (_, lead) => <Link to={`/leads/${encodeURIComponent(lead.lead_id)}`}>{lead.name || lead.lead_id}</Link>,
    },
    { title: t("leads.phone"), dataIndex: "phone", key: "phone", render: (phone: string | null) => phone ?? "—" },
    { title: t("leads.pool"), dataIndex: "pool_id", key: "pool" },
    { title: t("leads.score"), dataIndex: "score", key: "score" },
    {
      title: t("team.why"),
      key: "why",
      render: (_, lead) => (lead.push_missed ? pushMissedWords(t, lead.push_missed) : "—"),
    },
    {
      title: t("team.since"),
      key: "since",
      render: (_, lead) => (lead.push_missed ? dayjs(lead.push_missed.at).format("YYYY-MM-DD HH:mm") : "—"),
    },
  ];
}

/** The leads pushed to the team on arrival that found nobody and wait in the pool (allocator GET
 * /v1/teams/{id}/unplaced-leads), latest first, each with the reason in words: somebody acts on them. */
export function TeamUnplaced({ teamId }: { teamId: string }) {
  const { t } = useI18n();
  // The cursors of the pages seen, so "previous" goes back without the server keeping state.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const page = useQuery({
    queryKey: ["unplaced", teamId, cursor],
    refetchInterval: 60_000,
    queryFn: () =>
      unwrap(
        allocator.GET("/v1/teams/{team_id}/unplaced-leads", {
          params: { path: { team_id: teamId }, query: { limit: PAGE, cursor } },
        }),
      ),
  });
  if (page.error) return <ProblemAlert error={page.error} onRetry={() => page.refetch()} />;
  const data = page.data;
  const next = data?.next_cursor;
  return (
    <>
      <Typography.Paragraph type="secondary">
        {t("team.unplacedHelp")} {data ? t("team.unplacedCount", { count: data.total }) : ""}
      </Typography.Paragraph>
      <Table<UnplacedLead>
        rowKey="lead_id"
        size="small"
        loading={page.isLoading}
        columns={columns(t)}
        dataSource={data?.items ?? []}
        locale={{ emptyText: <Typography.Text type="secondary">{t("team.unplacedNone")}</Typography.Text> }}
        aria-label={t("team.unplaced")}
        pagination={{
          current: cursors.length,
          pageSize: PAGE,
          total: data ? (cursors.length - 1) * PAGE + data.items.length + (next ? 1 : 0) : 0,
          showSizeChanger: false,
          simple: true,
          hideOnSinglePage: true,
          onChange: (to) =>
            setCursors((seen) => (to > seen.length && next ? [...seen, next] : seen.slice(0, Math.max(1, to)))),
        }}
      />
    </>
  );
}
