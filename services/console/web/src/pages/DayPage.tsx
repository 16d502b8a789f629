import { useQuery } from "@tanstack/react-query";
import { Card, Col, List, Row, Space, Statistic, Typography } from "antd";
import { lazy, Suspense, useMemo } from "react";
import { metrics, type AgentIndicators } from "../api/clients";
import { unwrap } from "../api/http";
import { useAgent, useMe, useTiers } from "../api/queries";
import { PageFallback } from "../components/PageFallback";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n } from "../i18n";

const DayChart = lazy(() => import("./DayChart"));

const RATE_STEPS = ["connect_60s", "intent", "visit", "plan"] as const;

function today(): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

export default function DayPage() {
  const { t } = useI18n();
  const me = useMe();
  const agent = useAgent();
  const tiers = useTiers();
  const day = today();
  const indicators = useQuery({
    queryKey: ["indicators", me, day],
    enabled: Boolean(me),
    refetchInterval: 60_000,
    // The JSON body (the route also answers text/csv, hence the union openapi-fetch infers).
    queryFn: async (): Promise<AgentIndicators> =>
      (await unwrap(
        metrics.GET("/v1/agents/{agent_id}/indicators", {
          params: { path: { agent_id: me }, query: { from: day, to: day, format: "json" } },
        }),
      )) as AgentIndicators,
  });
  const totals: Partial<Record<string, number | null>> = indicators.data?.totals ?? {};
  const chart = useMemo(
    () => ({
      steps: RATE_STEPS.map((step) => t(`day.rate.${step}`)),
      me: RATE_STEPS.map((step) => indicators.data?.rates.agent?.[step] ?? null),
      team: RATE_STEPS.map((step) => indicators.data?.rates.team?.[step] ?? null),
    }),
    [indicators.data, t],
  );
  const opens = (tiers.data ?? []).filter((tier) => tier.may_open);
  const stat = (key: string, title: string) => (
    <Col xs={12} md={8} xl={4}>
      <Card>
        <Statistic title={title} value={totals[key] ?? 0} loading={indicators.isLoading} />
      </Card>
    </Col>
  );
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("day.title")}
      </Typography.Title>
      {indicators.error ? <ProblemAlert error={indicators.error} onRetry={() => indicators.refetch()} /> : null}
      <Row gutter={[16, 16]}>
        {stat("outbound", t("day.calls"))}
        {stat("connected", t("day.connected"))}
        {stat("effective", t("day.effective"))}
        {stat("deep", t("day.deep"))}
        {stat("won", t("day.won"))}
      </Row>
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={16}>
          <Card title={t("day.rates")}>
            <Suspense fallback={<PageFallback />}>
              <DayChart {...chart} meLabel={t("day.me")} teamLabel={t("day.team")} label={t("day.chartLabel")} />
            </Suspense>
          </Card>
        </Col>
        <Col xs={24} xl={8}>
          <Card title={t("day.grade", { grade: agent.data?.grade ?? "—" })}>
            {tiers.error ? <ProblemAlert error={tiers.error} /> : null}
            <Typography.Title level={2} style={{ fontSize: 14 }}>
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
