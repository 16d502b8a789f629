import { useQuery } from "@tanstack/react-query";
import { Button, DatePicker, Form, Input, Segmented, Space, Table, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import dayjs, { type Dayjs } from "dayjs";
import { useState } from "react";
import { allocator, leadIntake, type AccessRecordView } from "../api/clients";
import { unwrap } from "../api/http";
import { readsErasures, requestsErasure } from "../api/roles";
import { useSession } from "../api/session";
import { ProblemAlert } from "../components/ProblemAlert";
import { usePageTitle, useI18n, type Translate } from "../i18n";
import { ErasureCard } from "./ErasureCard";
import { ErasureList } from "./ErasureList";

const PAGE = 50;
const SERVICES = ["allocator", "lead-intake"] as const;
type Service = (typeof SERVICES)[number];
const REASONS = ["holder", "supervisor", "operator", "service", "admin"] as const;
type Reason = (typeof REASONS)[number];
const isReason = (value: string): value is Reason => (REASONS as readonly string[]).includes(value);

interface Filters {
  user?: string;
  lead_id?: string;
  since?: string;
  until?: string;
}

function columns(t: Translate): ColumnsType<AccessRecordView> {
  return [
    { title: t("access.at"), dataIndex: "at", key: "at", render: (at: string) => dayjs(at).format("YYYY-MM-DD HH:mm:ss") },
    { title: t("access.user"), dataIndex: "user", key: "user", render: (user: string, r) => (r.team ? `${user} (${r.team})` : user) },
    { title: t("access.route"), key: "route", render: (_, r) => `${r.method} ${r.route}` },
    {
      title: t("access.reason"),
      dataIndex: "reason",
      key: "reason",
      render: (reason: string) => (isReason(reason) ? t(`access.reason.${reason}`) : reason),
    },
    { title: t("access.leads"), dataIndex: "lead_ids", key: "leads", render: (ids: string[]) => ids.join(", ") },
  ];
}

async function readLog(service: Service, filters: Filters, cursor: string | undefined) {
  const query = { ...filters, limit: PAGE, cursor };
  return service === "allocator"
    ? unwrap(allocator.GET("/v1/access-log", { params: { query } }))
    : unwrap(leadIntake.GET("/v1/access-log", { params: { query } }));
}

/** Who saw which lead's number in full, per service (GET /v1/access-log: operators and auditors), by user,
 * lead and period, newest first. Read only: nothing here changes the log. */
export default function AccessLogPage() {
  const { t } = useI18n();
  usePageTitle(t("access.title"));
  const [service, setService] = useState<Service>("allocator");
  const [filters, setFilters] = useState<Filters>({});
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const page = useQuery({
    queryKey: ["access-log", service, filters, cursor],
    queryFn: () => readLog(service, filters, cursor),
  });
  const search = (values: { user?: string; lead_id?: string; period?: [Dayjs | null, Dayjs | null] | null }) => {
    const [since, until] = values.period ?? [null, null];
    setFilters({
      user: values.user?.trim() || undefined,
      lead_id: values.lead_id?.trim() || undefined,
      since: since ? since.startOf("day").toISOString() : undefined,
      until: until ? until.endOf("day").toISOString() : undefined,
    });
    setCursors([undefined]);
  };
  const next = page.data?.next_cursor;
  const roles = useSession().data?.user.roles ?? [];
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("access.title")}
      </Typography.Title>
      <Typography.Paragraph type="secondary">{t("access.help")}</Typography.Paragraph>
      {requestsErasure(roles) ? <ErasureCard /> : null}
      {readsErasures(roles) ? <ErasureList /> : null}
      <Segmented
        aria-label={t("access.service")}
        value={service}
        onChange={(value) => {
          setService(value as Service);
          setCursors([undefined]);
        }}
        options={SERVICES.map((s) => ({ value: s, label: s }))}
      />
      <Form layout="inline" onFinish={search} aria-label={t("access.filters")}>
        <Form.Item name="user" label={t("access.user")}>
          <Input allowClear />
        </Form.Item>
        <Form.Item name="lead_id" label={t("access.lead")}>
          <Input allowClear />
        </Form.Item>
        <Form.Item name="period" label={t("access.period")}>
          <DatePicker.RangePicker />
        </Form.Item>
        <Button type="primary" htmlType="submit">
          {t("access.search")}
        </Button>
      </Form>
      {page.error ? (
        <ProblemAlert error={page.error} onRetry={() => page.refetch()} />
      ) : (
        <>
          <Table<AccessRecordView>
            rowKey={(r) => `${r.at}|${r.user}|${r.route}|${r.lead_ids.join(",")}`}
            size="small"
            loading={page.isLoading}
            columns={columns(t)}
            dataSource={page.data?.items ?? []}
            pagination={false}
            aria-label={t("access.title")}
            locale={{ emptyText: <Typography.Text type="secondary">{t("access.none")}</Typography.Text> }}
          />
          <Space>
            <Button disabled={cursors.length < 2} onClick={() => setCursors((seen) => seen.slice(0, -1))}>
              {t("access.newer")}
            </Button>
            <Button disabled={!next} onClick={() => next && setCursors((seen) => [...seen, next])}>
              {t("access.older")}
            </Button>
          </Space>
        </>
      )}
    </Space>
  );
}
