import { FireOutlined, PauseCircleOutlined } from "@ant-design/icons";
import { Input, Space, Table, Tag, Tooltip, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { lazy, Suspense, useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { FUNNEL_STEPS, SIGNAL_KINDS, type LeadRow, type SignalKind } from "../api/clients";
import { useMyLeads } from "../api/queries";
import { useSession } from "../api/session";
import { durationWords } from "../components/duration";
import { ProblemAlert } from "../components/ProblemAlert";
import { ReclaimClock } from "../components/ReclaimClock";
import { StageProgress } from "../components/StageProgress";
import { usePageTitle, useI18n, type Translate } from "../i18n";

// Supervisors only: agents never load it.
const DealApprovals = lazy(() => import("./DealApprovals"));
// Agents only: applying for a lead (轮询申领) is the agent's move.
const ApplyCard = lazy(() => import("./ApplyCard"));

function time(value: string | null | undefined, lang: string): string {
  return value ? new Date(value).toLocaleString(lang, { dateStyle: "short", timeStyle: "short" }) : "—";
}

function millis(value: string | null | undefined): number {
  return value ? new Date(value).getTime() : Number.POSITIVE_INFINITY;
}

export function RestMarker({ restUntil, now = new Date() }: { restUntil?: string | null; now?: Date }) {
  const { t } = useI18n();
  if (!restUntil || new Date(restUntil).getTime() <= now.getTime()) return null;
  return (
    <Tag icon={<PauseCircleOutlined aria-hidden />} color="orange">
      {t("leads.resting", { time: durationWords(t, new Date(restUntil).getTime() - now.getTime()) })}
    </Tag>
  );
}

/** A customer's signal kind in words (an unknown kind as it came). */
export function signalWords(t: Translate, kind: string): string {
  return (SIGNAL_KINDS as string[]).includes(kind) ? t(`signal.${kind as SignalKind}`) : kind;
}

/** The hot marker: the customer's latest signal (the allocator's `hot`: kind, detail, when). */
export function HotMarker({ lead }: { lead: Pick<LeadRow, "hot"> }) {
  const { t, lang } = useI18n();
  if (!lead.hot) return null;
  const what = lead.hot.detail ? `${signalWords(t, lead.hot.kind)}: ${lead.hot.detail}` : signalWords(t, lead.hot.kind);
  const signal = t("leads.hotAt", { signal: what, at: time(lead.hot.at, lang) });
  return (
    <Tooltip title={signal}>
      <Tag icon={<FireOutlined aria-hidden />} color="red" data-testid="hot-marker">
        {t("leads.hotMark")}
        <span className="visually-hidden">: {signal}</span>
      </Tag>
    </Tooltip>
  );
}

function columns(t: Translate, lang: string): ColumnsType<LeadRow> {
  return [
    {
      title: t("leads.name"),
      dataIndex: "name",
      key: "name",
      render: (_, lead) => (
        <Space size={4} wrap>
          <Link to={`/leads/${encodeURIComponent(lead.lead_id)}`}>{lead.name || lead.lead_id}</Link>
          <HotMarker lead={lead} />
          {lead.deal_in_progress ? <Tag color="green">{t("leads.deal")}</Tag> : null}
        </Space>
      ),
      sorter: (a, b) => (a.name ?? "").localeCompare(b.name ?? "", lang),
    },
    { title: t("leads.phone"), dataIndex: "phone", key: "phone", render: (phone: string | null) => phone ?? "—" },
    {
      title: t("leads.stage"),
      dataIndex: "stage_percent",
      key: "stage",
      width: 200,
      render: (percent: number) => <StageProgress percent={percent} compact />,
      sorter: (a, b) => a.stage_percent - b.stage_percent,
    },
    {
      title: t("leads.funnel"),
      dataIndex: "funnel_step",
      key: "funnel",
      render: (step: string | null) =>
        step && (FUNNEL_STEPS as string[]).includes(step) ? t(`funnel.${step as (typeof FUNNEL_STEPS)[number]}`) : "—",
      filters: FUNNEL_STEPS.map((step) => ({ text: t(`funnel.${step}`), value: step })),
      onFilter: (value, lead) => lead.funnel_step === value,
    },
    {
      title: t("leads.reclaim"),
      key: "reclaim",
      render: (_, lead) => <ReclaimClock reclaim={lead.reclaim} />,
      sorter: (a, b) => millis(a.reclaim?.at) - millis(b.reclaim?.at),
      defaultSortOrder: "ascend",
    },
    {
      title: t("leads.rest"),
      key: "rest",
      render: (_, lead) => <RestMarker restUntil={lead.rest_until} />,
    },
    {
      title: t("leads.calls"),
      dataIndex: "call_count",
      key: "calls",
      sorter: (a, b) => a.call_count - b.call_count,
    },
    {
      title: t("leads.lastCall"),
      dataIndex: "last_call_at",
      key: "last_call",
      render: (value: string | null) => (value ? time(value, lang) : t("leads.never")),
      sorter: (a, b) => millis(a.last_call_at) - millis(b.last_call_at),
    },
    {
      title: t("leads.grade"),
      dataIndex: "lead_grade",
      key: "grade",
      filters: ["A", "B", "C", "D"].map((grade) => ({ text: grade, value: grade })),
      onFilter: (value, lead) => lead.lead_grade === value,
    },
    {
      title: t("leads.score"),
      dataIndex: "score",
      key: "score",
      sorter: (a, b) => a.score - b.score,
    },
    {
      title: t("leads.heldSince"),
      dataIndex: "held_since",
      key: "held_since",
      render: (value: string | null) => time(value, lang),
      sorter: (a, b) => millis(a.held_since) - millis(b.held_since),
    },
  ];
}

export default function LeadsPage() {
  const { t, lang } = useI18n();
  usePageTitle(t("leads.title"));
  const leads = useMyLeads();
  const roles = useSession().data?.user.roles ?? [];
  const [search, setSearch] = useState("");
  const rows = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const all = leads.data ?? [];
    if (!needle) return all;
    return all.filter((lead) =>
      [lead.name, lead.phone, lead.company, lead.lead_id].some((value) => value?.toLowerCase().includes(needle)),
    );
  }, [leads.data, search]);
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("leads.title")}
      </Typography.Title>
      {roles.includes("supervisor") || roles.includes("admin") ? (
        <Suspense fallback={null}>
          <DealApprovals />
        </Suspense>
      ) : null}
      {roles.includes("agent") ? (
        <Suspense fallback={null}>
          <ApplyCard />
        </Suspense>
      ) : null}
      <Input.Search
        allowClear
        aria-label={t("leads.search")}
        placeholder={t("leads.search")}
        value={search}
        onChange={(e) => setSearch(e.target.value)}
        style={{ maxWidth: 360 }}
      />
      {leads.error ? <ProblemAlert error={leads.error} onRetry={() => leads.refetch()} /> : null}
      <Table<LeadRow>
        rowKey="lead_id"
        size="middle"
        loading={leads.isLoading}
        columns={columns(t, lang)}
        dataSource={rows}
        scroll={{ x: 1200 }}
        pagination={{ pageSize: 20, showTotal: (count) => t("leads.count", { count }) }}
        locale={{ emptyText: t("leads.empty") }}
        aria-label={t("leads.title")}
      />
    </Space>
  );
}
