import { useQuery } from "@tanstack/react-query";
import { Table, Tag, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { abilityWeightsQuery, type AbilityWeights } from "../api/teamQueries";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n, type Translate } from "../i18n";

type Row = AbilityWeights["agents"][number];

const percent = (value: number | null | undefined) => (value == null ? "—" : `${(value * 100).toFixed(1)}%`);

function columns(t: Translate, weights: AbilityWeights): ColumnsType<Row> {
  return [
    { title: t("team.agent"), dataIndex: "agent_id", key: "agent" },
    { title: t("team.wins"), dataIndex: "won", key: "won", sorter: (a, b) => a.won - b.won },
    { title: t("team.received"), dataIndex: "received", key: "received", sorter: (a, b) => a.received - b.received },
    {
      title: t("team.rate"),
      dataIndex: "conversion",
      key: "rate",
      render: (value: number | null) => percent(value),
    },
    {
      title: t("team.weight"),
      key: "weight",
      defaultSortOrder: "descend",
      sorter: (a, b) => a.weight - b.weight,
      render: (_, row) => (
        <span>
          {row.weight.toFixed(3)}{" "}
          {row.floor_applied ? (
            <Tag color={row.received < weights.min_leads ? "blue" : "orange"}>
              {row.received < weights.min_leads ? t("team.floor") : t("team.lowFloor")}
            </Tag>
          ) : null}
        </span>
      ),
    },
  ];
}

/** The weights 能力+平均 gives the team's agents, measured (confirmed wins ÷ leads received over the window),
 * with the new agents' floor marked. */
export function TeamWeights({ teamId }: { teamId: string }) {
  const { t } = useI18n();
  const weights = useQuery(abilityWeightsQuery(teamId));
  if (weights.error) return <ProblemAlert error={weights.error} onRetry={() => weights.refetch()} />;
  const data = weights.data;
  return (
    <>
      {data ? (
        <Typography.Paragraph type="secondary">
          {t("team.weightsHelp", { days: data.window_days, min: data.min_leads, floor: data.floor })}
        </Typography.Paragraph>
      ) : null}
      <Table<Row>
        rowKey="agent_id"
        size="small"
        loading={weights.isLoading}
        columns={data ? columns(t, data) : []}
        dataSource={data?.agents ?? []}
        pagination={false}
        locale={{ emptyText: <Typography.Text type="secondary">{t("team.noAgents")}</Typography.Text> }}
        aria-label={t("team.weights")}
      />
    </>
  );
}
