import { useQuery } from "@tanstack/react-query";
import { Alert, Card, Col, List, Row, Space, Statistic, Typography } from "antd";
import { useMemo } from "react";
import { FUNNEL_STEPS } from "../api/clients";
import { indicatorsQuery, useAgent, useMe, useTiers } from "../api/queries";
import { useModuleAfterPaint } from "../boot/lazyModules";
import { once } from "../boot/once";
import { PageFallback } from "../components/PageFallback";
import { ProblemAlert } from "../components/ProblemAlert";
import { usePageTitle, useI18n } from "../i18n";
import type { Comparison } from "./DayChart";
import { shanghaiToday } from "./dayRange";

// ECharts is fetched after the page's first paint, not with the page: fetched with it, it held that paint back.
const dayChart = once(() => import("./DayChart"));

const RATE_STEPS = ["connect_60s", "intent", "visit", "plan"] as const;
const CALL_COUNTS = ["outbound", "connected", "effective", "deep"] as const;

export default function DayPage() {
  const { t } = useI18n();
  usePageTitle(t("day.title"));
  const me = useMe();
  const agent = useAgent();
  const tiers = useTiers();
  const day = shanghaiToday();
  const indicators = useQuery(indicatorsQuery(me, day));
  const chart = useModuleAfterPaint(dayChart);
  const data = indicators.data;
  const team = data?.team ?? null;
  const charts = useMemo(() => {
    const mine = new Map((data?.funnel ?? []).map((row) => [row.step, row.count]));
    const common = { meLabel: t("day.me"), teamLabel: t("day.teamAverage") };
    return {
      rates: {
        steps: RATE_STEPS.map((step) => t(`day.rate.${step}`)),
        me: RATE_STEPS.map((step) => data?.rates.agent?.[step] ?? null),
        team: RATE_STEPS.map((step) => data?.rates.team?.[step] ?? null),
        meLabel: t("day.me"),
        teamLabel: t("day.team"),
        label: t("day.chartLabel"),
        stepLabel: t("leads.funnel"),
        percent: true,
      },
      funnel: {
        ...common,
        steps: FUNNEL_STEPS.map((step) => t(`funnel.${step}`)),
        me: FUNNEL_STEPS.map((step) => mine.get(step) ?? 0),
        team: FUNNEL_STEPS.map((step) => team?.per_agent[step] ?? null),
        label: t("day.funnelLabel"),
        stepLabel: t("leads.funnel"),
      },
      calls: {
        ...common,
        steps: CALL_COUNTS.map((count) => t(`day.calls.${count}`)),
        me: CALL_COUNTS.map((count) => data?.totals[count] ?? 0),
        team: CALL_COUNTS.map((count) => team?.per_agent[count] ?? null),
        label: t("day.callsLabel"),
        stepLabel: t("day.teamCalls"),
      },
    };
  }, [data, team, t]);
  const opens = (tiers.data ?? []).filter((tier) => tier.may_open);
  const stat = (key: (typeof CALL_COUNTS)[number] | "won", title: string) => (
    <Col xs={12} md={8} xl={4}>
      <Card>
        <Statistic title={title} value={data?.totals[key] ?? 0} loading={indicators.isLoading} />
      </Card>
    </Col>
  );
  const chartCard = (title: string, comparison: Comparison) => (
    <Col xs={24} xl={12}>
      <Card title={<h2 className="card-heading">{title}</h2>}>
        {chart.failed ? (
          <Alert type="warning" showIcon message={t("day.chartFailed")} />
        ) : data && chart.module ? (
          <chart.module.default {...comparison} />
        ) : (
          // The box keeps the chart's place; a failed read is told once, above the cards.
          <div className="chart-box">{indicators.isError ? null : <PageFallback />}</div>
        )}
      </Card>
    </Col>
  );
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("day.title")}
      </Typography.Title>
      {/* The team comes with the indicators, a moment after the page: an element of its own, so the date
          line is painted once at its full size (Lighthouse times the largest paint by its last growth). */}
      <Space split="·" wrap>
        <Typography.Text type="secondary">{t("day.today", { day })}</Typography.Text>
        {team ? (
          <Typography.Text type="secondary">
            {t("day.teamSize", { team: team.team_id, agents: team.agents })}
          </Typography.Text>
        ) : null}
      </Space>
      {indicators.error ? <ProblemAlert error={indicators.error} onRetry={() => indicators.refetch()} /> : null}
      <Row gutter={[16, 16]}>
        {stat("outbound", t("day.calls"))}
        {stat("connected", t("day.connected"))}
        {stat("effective", t("day.effective"))}
        {stat("deep", t("day.deep"))}
        {stat("won", t("day.won"))}
      </Row>
      {data && !team ? <Alert type="info" showIcon message={t("day.noTeam")} /> : null}
      <Row gutter={[16, 16]}>
        {chartCard(t("day.teamFunnel"), charts.funnel)}
        {chartCard(t("day.teamCalls"), charts.calls)}
        {chartCard(t("day.rates"), charts.rates)}
        <Col xs={24} xl={12}>
          <Card title={<h2 className="card-heading">{t("day.grade", { grade: agent.data?.grade ?? "—" })}</h2>}>
            {tiers.error ? <ProblemAlert error={tiers.error} /> : null}
            <Typography.Title level={3} style={{ fontSize: 14 }}>
              {t("day.opens")}
            </Typography.Title>
            <List
              size="small"
              loading={tiers.isLoading}
              dataSource={opens}
              locale={{ emptyText: t("day.noTiers") }}
              renderItem={(tier) => <List.Item>{tier.name}</List.Item>}
            />
          </Card>
        </Col>
      </Row>
    </Space>
  );
}
