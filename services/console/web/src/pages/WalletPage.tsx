import { useInfiniteQuery } from "@tanstack/react-query";
import { Alert, Button, Card, Col, Row, Space, Statistic, Table, Tabs, Typography } from "antd";
import { ledger, type StatementLine } from "../api/clients";
import { unwrap } from "../api/http";
import { useLedgerUser, useMe } from "../api/queries";
import { ProblemAlert } from "../components/ProblemAlert";
import { usePageTitle, useI18n } from "../i18n";

function Statement({ account }: { account: string }) {
  const { t, lang } = useI18n();
  const statement = useInfiniteQuery({
    queryKey: ["wallet", "statement", account],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(
        ledger.GET("/v1/accounts/{account}/statement", {
          params: { path: { account }, query: { limit: 100, cursor: pageParam } },
        }),
      ),
    getNextPageParam: (page) => page.next_cursor ?? undefined,
  });
  // The ledger answers oldest first; the newest line is what an agent looks for.
  const lines = (statement.data?.pages.flatMap((page) => page.items) ?? []).slice().reverse();
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      {statement.error ? <ProblemAlert error={statement.error} onRetry={() => statement.refetch()} /> : null}
      <Table<StatementLine>
        rowKey={(line) => `${line.transfer_id}:${line.direction}`}
        loading={statement.isLoading}
        dataSource={lines}
        size="small"
        pagination={{ pageSize: 20 }}
        scroll={{ x: 800 }}
        columns={[
          { title: t("wallet.at"), dataIndex: "at", key: "at", render: (at: string) => new Date(at).toLocaleString(lang) },
          { title: t("wallet.kind"), dataIndex: "kind", key: "kind" },
          {
            title: t("wallet.amount"),
            dataIndex: "signed_amount",
            key: "amount",
            align: "right",
            render: (amount: number) => (
              <Typography.Text type={amount < 0 ? "danger" : "success"}>{amount > 0 ? `+${amount}` : amount}</Typography.Text>
            ),
          },
          { title: t("wallet.counterparty"), dataIndex: "counterparty", key: "counterparty" },
          { title: t("wallet.state"), dataIndex: "state", key: "state" },
          {
            title: t("wallet.note"),
            key: "note",
            render: (_, line) => line.note ?? line.reference ?? "—",
          },
        ]}
      />
      {statement.hasNextPage ? (
        <Button onClick={() => statement.fetchNextPage()} loading={statement.isFetchingNextPage}>
          {t("tips.more")}
        </Button>
      ) : null}
    </Space>
  );
}

export default function WalletPage() {
  const { t } = useI18n();
  usePageTitle(t("wallet.title"));
  const me = useMe();
  const user = useLedgerUser();
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("wallet.title")}
      </Typography.Title>
      {user.error ? <ProblemAlert error={user.error} onRetry={() => user.refetch()} /> : null}
      {user.data?.allocation_blocked ? <Alert type="warning" showIcon message={t("wallet.blocked")} /> : null}
      <Row gutter={16}>
        <Col xs={12} md={6}>
          <Card>
            <Statistic title={t("wallet.balance")} value={user.data?.wallet ?? "—"} loading={user.isLoading} />
          </Card>
        </Col>
        <Col xs={12} md={6}>
          <Card>
            <Statistic title={t("wallet.earnings")} value={user.data?.earnings ?? "—"} loading={user.isLoading} />
          </Card>
        </Col>
      </Row>
      {me ? (
        <Card>
          <Tabs
            items={[
              { key: "wallet", label: t("wallet.statement"), children: <Statement account={`wallet:${me}`} /> },
              { key: "earnings", label: t("wallet.earningsStatement"), children: <Statement account={`earnings:${me}`} /> },
            ]}
          />
        </Card>
      ) : null}
    </Space>
  );
}
