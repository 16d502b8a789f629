import { Card, Table, Tag, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import dayjs from "dayjs";
import type { ErasureView } from "../api/clients";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n, type Translate } from "../i18n";
import { answered, useErasures } from "./erasureQueries";

const STATUS_TAGS = {
  pending: { key: "erasure.state.pending", color: "blue" },
  complete: { key: "erasure.state.complete", color: "green" },
  nothing_found: { key: "erasure.state.nothing_found", color: "default" },
} as const;

/** Who asked: a user (sub), or the service that made the request (the allocator's retention sweep). */
function requester(view: ErasureView): string {
  const by = view.requested_by ?? {};
  return String(by.sub ?? by.source ?? "");
}

function columns(t: Translate): ColumnsType<ErasureView> {
  return [
    {
      title: t("erasure.list.at"),
      dataIndex: "requested_at",
      key: "at",
      render: (at: string) => dayjs(at).format("YYYY-MM-DD HH:mm:ss"),
    },
    { title: t("erasure.list.id"), dataIndex: "request_id", key: "id" },
    {
      title: t("erasure.list.status"),
      dataIndex: "status",
      key: "status",
      render: (status: string) => {
        const tag = STATUS_TAGS[status as keyof typeof STATUS_TAGS];
        return tag ? <Tag color={tag.color}>{t(tag.key)}</Tag> : status;
      },
    },
    {
      title: t("erasure.list.leads"),
      key: "leads",
      render: (_, view) => (view.lead_ids ? view.lead_ids.length : "—"),
    },
    {
      title: t("erasure.list.services"),
      key: "services",
      render: (_, view) =>
        view.status === "nothing_found" ? "—" : `${answered(view).length}/${view.expected_services.length}`,
    },
    { title: t("erasure.list.by"), key: "by", render: (_, view) => requester(view) },
    {
      title: t("erasure.list.why"),
      key: "why",
      render: (_, view) => (view.reason === "retention" ? t("erasure.list.retention") : (view.note ?? "")),
    },
  ];
}

/** The tenant's latest erasure requests and where each stands (GET /v1/erasures: operators and auditors).
 * The records name no one: lead ids are counted, the phone or email asked for was never kept. */
export function ErasureList() {
  const { t } = useI18n();
  const list = useErasures();
  return (
    <Card title={<h2 className="card-heading">{t("erasure.list.title")}</h2>} size="small">
      {list.error ? (
        <ProblemAlert error={list.error} onRetry={() => list.refetch()} />
      ) : (
        <Table<ErasureView>
          rowKey="request_id"
          size="small"
          loading={list.isLoading}
          columns={columns(t)}
          dataSource={list.data?.items ?? []}
          pagination={false}
          aria-label={t("erasure.list.title")}
          data-testid="erasure-list"
          locale={{ emptyText: <Typography.Text type="secondary">{t("erasure.list.none")}</Typography.Text> }}
        />
      )}
    </Card>
  );
}
