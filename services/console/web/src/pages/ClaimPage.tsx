import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Col, InputNumber, Progress, Row, Space, Statistic, Table, Typography } from "antd";
import { useState } from "react";
import { allocator, type ClaimResult, type TierView } from "../api/clients";
import { unwrap } from "../api/http";
import { useAgent, useMe, useTiers } from "../api/queries";
import { minutesWords } from "../components/duration";
import { ProblemAlert } from "../components/ProblemAlert";
import { TierLock } from "../components/TierLock";
import { usePageTitle, useI18n } from "../i18n";
import { timeGate } from "./claimGate";

/** The allocator tells the holding cap and the refresh quota only in a claim's answer: the last one is
 * kept (per agent, for the browser session) so the page can show them again. */
function useLastClaim(me: string): [ClaimResult | undefined, (result: ClaimResult) => void] {
  const key = `console.lastClaim.${me}`;
  const [last, setLast] = useState<ClaimResult | undefined>(() => {
    try {
      const raw = window.sessionStorage.getItem(key);
      return raw ? (JSON.parse(raw) as ClaimResult) : undefined;
    } catch {
      return undefined;
    }
  });
  const remember = (result: ClaimResult) => {
    setLast(result);
    try {
      window.sessionStorage.setItem(key, JSON.stringify({ ...result, leads: [] }));
    } catch {
      // storage refused: shown until the page is left
    }
  };
  return [last, remember];
}

export default function ClaimPage() {
  const { t } = useI18n();
  usePageTitle(t("claim.title"));
  const me = useMe();
  const agent = useAgent();
  const tiers = useTiers();
  const queryClient = useQueryClient();
  const [counts, setCounts] = useState<Record<string, number>>({});
  const [last, remember] = useLastClaim(me);
  const claim = useMutation({
    mutationFn: (body: { tier_id: string; count: number }) =>
      unwrap(allocator.POST("/v1/agents/{agent_id}/claims", { params: { path: { agent_id: me } }, body })),
    onSuccess: (result) => {
      remember(result);
      void queryClient.invalidateQueries({ queryKey: ["leads"] });
      void queryClient.invalidateQueries({ queryKey: ["agent"] });
      void queryClient.invalidateQueries({ queryKey: ["tiers"] });
    },
  });
  const result: ClaimResult | undefined = claim.data;
  const worked = Math.floor(agent.data?.worked_minutes_today ?? 0);
  const gate = timeGate(tiers.data ?? [], worked);
  const gateMinutes = gate.next?.minutes ?? gate.highest;
  const gateWords = gate.next
    ? t("claim.gate", {
        worked: minutesWords(t, worked),
        need: minutesWords(t, gate.next.minutes),
        left: minutesWords(t, gate.next.minutes - worked),
        tier: gate.next.tier,
      })
    : gate.highest
      ? t("claim.gateMet", { worked: minutesWords(t, worked), need: minutesWords(t, gate.highest) })
      : t("claim.noGate", { worked: minutesWords(t, worked) });
  const holdingCap = result?.holding_cap ?? last?.holding_cap;
  const quotaLeft = result?.quota_left ?? last?.quota_left;
  const claimFrom = (tier: TierView) => claim.mutate({ tier_id: tier.tier_id, count: counts[tier.tier_id] ?? 5 });
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("claim.title")}
      </Typography.Title>
      {agent.error ? <ProblemAlert error={agent.error} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={12}>
          <Card loading={agent.isLoading}>
            <Statistic title={t("claim.worked")} value={minutesWords(t, worked)} />
            <Progress
              percent={gateMinutes ? Math.min(100, Math.round((worked / gateMinutes) * 100)) : 100}
              status={gate.next ? "active" : "success"}
              aria-label={t("claim.gateLabel")}
              data-testid="worked-gate"
            />
            <Typography.Text>{gateWords}</Typography.Text>
          </Card>
        </Col>
        <Col xs={8} lg={4}>
          <Card loading={agent.isLoading}>
            <Statistic title={t("claim.holding")} value={agent.data?.holding ?? result?.holding ?? "—"} />
          </Card>
        </Col>
        <Col xs={8} lg={4}>
          <Card>
            <Statistic title={t("claim.holdingCap")} value={holdingCap ?? "—"} />
            {holdingCap === undefined ? <Typography.Text type="secondary">{t("claim.afterClaim")}</Typography.Text> : null}
          </Card>
        </Col>
        <Col xs={8} lg={4}>
          <Card>
            <Statistic title={t("claim.quotaLeft")} value={quotaLeft ?? "—"} />
            {quotaLeft === undefined ? <Typography.Text type="secondary">{t("claim.afterClaim")}</Typography.Text> : null}
          </Card>
        </Col>
      </Row>
      {agent.data ? (
        <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
          {t("claim.me", { grade: agent.data.grade ?? "—", worked: minutesWords(t, worked), holding: agent.data.holding ?? "—" })}
        </Typography.Paragraph>
      ) : null}
      {tiers.error ? <ProblemAlert error={tiers.error} onRetry={() => tiers.refetch()} /> : null}
      <div aria-live="polite">
        {claim.error ? <ProblemAlert error={claim.error} /> : null}
        {result ? (
          <Alert
            type={result.claimed > 0 ? "success" : "warning"}
            showIcon
            role="status"
            message={t("claim.result", {
              requested: result.requested,
              granted: result.granted,
              claimed: result.claimed,
              holding: result.holding,
              cap: result.holding_cap,
              quota: result.quota_left,
            })}
          />
        ) : null}
      </div>
      <Table<TierView>
        rowKey="tier_id"
        loading={tiers.isLoading}
        dataSource={tiers.data ?? []}
        pagination={false}
        aria-label={t("claim.tier")}
        scroll={{ x: 760 }}
        columns={[
          { title: t("claim.tier"), dataIndex: "name", key: "name" },
          {
            title: t("claim.grades"),
            key: "grades",
            render: (_, tier) => (tier.grades.length ? tier.grades.join(" / ") : t("claim.anyGrade")),
          },
          { title: t("claim.minWorked"), key: "min", render: (_, tier) => minutesWords(t, tier.min_worked_minutes) },
          { title: t("claim.open"), key: "lock", render: (_, tier) => <TierLock tier={tier} agent={agent.data} /> },
          {
            title: t("claim.action"),
            key: "claim",
            render: (_, tier) => (
              <Space>
                <InputNumber
                  min={1}
                  max={1000}
                  value={counts[tier.tier_id] ?? 5}
                  onChange={(value) => setCounts((all) => ({ ...all, [tier.tier_id]: value ?? 1 }))}
                  aria-label={t("claim.countFor", { tier: tier.name })}
                  disabled={!tier.may_open}
                  style={{ width: 88 }}
                />
                <Button
                  type="primary"
                  onClick={() => claimFrom(tier)}
                  loading={claim.isPending && claim.variables?.tier_id === tier.tier_id}
                  disabled={!tier.may_open}
                  aria-label={t("claim.submitFor", { tier: tier.name })}
                >
                  {t("claim.submit")}
                </Button>
              </Space>
            ),
          },
        ]}
      />
    </Space>
  );
}
