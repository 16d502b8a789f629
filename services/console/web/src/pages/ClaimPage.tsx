import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Form, InputNumber, Select, Space, Table, Typography } from "antd";
import { allocator, type ClaimResult, type TierView } from "../api/clients";
import { unwrap } from "../api/http";
import { useAgent, useMe, useTiers } from "../api/queries";
import { minutesWords } from "../components/duration";
import { ProblemAlert } from "../components/ProblemAlert";
import { TierLock } from "../components/TierLock";
import { useI18n } from "../i18n";

export default function ClaimPage() {
  const { t } = useI18n();
  const me = useMe();
  const agent = useAgent();
  const tiers = useTiers();
  const queryClient = useQueryClient();
  const claim = useMutation({
    mutationFn: (body: { tier_id: string; count: number }) =>
      unwrap(allocator.POST("/v1/agents/{agent_id}/claims", { params: { path: { agent_id: me } }, body })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["leads"] });
      void queryClient.invalidateQueries({ queryKey: ["agent"] });
      void queryClient.invalidateQueries({ queryKey: ["tiers"] });
    },
  });
  const open = (tiers.data ?? []).filter((tier) => tier.may_open);
  const result: ClaimResult | undefined = claim.data;
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("claim.title")}
      </Typography.Title>
      {agent.data ? (
        <Typography.Paragraph>
          {t("claim.me", {
            grade: agent.data.grade ?? "—",
            worked: minutesWords(t, Math.floor(agent.data.worked_minutes_today)),
            holding: agent.data.holding ?? "—",
          })}
        </Typography.Paragraph>
      ) : null}
      {agent.error ? <ProblemAlert error={agent.error} /> : null}
      {tiers.error ? <ProblemAlert error={tiers.error} onRetry={() => tiers.refetch()} /> : null}
      <Table<TierView>
        rowKey="tier_id"
        loading={tiers.isLoading}
        dataSource={tiers.data ?? []}
        pagination={false}
        aria-label={t("claim.tier")}
        columns={[
          { title: t("claim.tier"), dataIndex: "name", key: "name" },
          {
            title: t("claim.grades"),
            key: "grades",
            render: (_, tier) => (tier.grades.length ? tier.grades.join(" / ") : t("claim.anyGrade")),
          },
          {
            title: t("claim.minWorked"),
            key: "min",
            render: (_, tier) => minutesWords(t, tier.min_worked_minutes),
          },
          { title: t("claim.open"), key: "lock", render: (_, tier) => <TierLock tier={tier} agent={agent.data} /> },
        ]}
      />
      <Card title={t("claim.submit")}>
        <Form
          layout="inline"
          aria-label={t("claim.submit")}
          initialValues={{ count: 5 }}
          onFinish={(values: { tier_id: string; count: number }) => claim.mutate(values)}
        >
          <Form.Item label={t("claim.tier")} name="tier_id" rules={[{ required: true }]}>
            <Select
              style={{ minWidth: 200 }}
              options={open.map((tier) => ({ value: tier.tier_id, label: tier.name }))}
              aria-label={t("claim.tier")}
            />
          </Form.Item>
          <Form.Item label={t("claim.count")} name="count" rules={[{ required: true }]}>
            <InputNumber min={1} max={1000} />
          </Form.Item>
          <Button type="primary" htmlType="submit" loading={claim.isPending} disabled={!open.length}>
            {t("claim.submit")}
          </Button>
        </Form>
        <div style={{ marginTop: 16 }} aria-live="polite">
          {claim.error ? <ProblemAlert error={claim.error} /> : null}
          {result ? (
            <Alert
              type={result.claimed > 0 ? "success" : "warning"}
              showIcon
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
      </Card>
    </Space>
  );
}
