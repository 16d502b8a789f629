import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Radio, Space, Typography } from "antd";
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { allocator, type ApplicationView } from "../api/clients";
import { unwrap } from "../api/http";
import { ApiError } from "../api/problem";
import { applicationsQuery, leadQuery, useMe, useMyLeads } from "../api/queries";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n, type Lang, type Translate } from "../i18n";
import type { MessageKey } from "../i18n/messages";

const REASONS = [
  "holding_cap_reached",
  "refresh_quota_used",
  "agent_inactive",
  "not_an_agent",
  "not_working",
  "application_pending",
  "unknown_pool",
] as const;
const AWAY = ["on_break", "logged_out"] as const;

/** Why an application was refused (the allocator's `reason`, or a refused apply's problem code), in words:
 * `not_working (on_break)` names the status it found; an unknown reason shows as it came. */
export function applicationReason(t: Translate, reason: string | null | undefined): string {
  if (!reason) return "—";
  const [code, rest] = reason.split(" (", 2);
  if (!(REASONS as readonly string[]).includes(code)) return reason;
  const status = rest?.replace(/\)$/, "") ?? "";
  const away = (AWAY as readonly string[]).includes(status) ? t(`apply.away.${status}` as MessageKey) : status;
  return t(`apply.reason.${code}` as MessageKey, { status: away || "—" });
}

function time(lang: Lang, iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString(lang, { dateStyle: "short", timeStyle: "short" }) : "—";
}

/** The words of one application, newest first in the card's list. */
export function applicationWords(t: Translate, lang: Lang, a: ApplicationView, leadName?: string): string {
  const at = time(lang, a.decided_at ?? a.applied_at);
  const lead = lang === "zh-CN" ? `「${leadName || a.lead_id}」` : `“${leadName || a.lead_id}”`;
  switch (a.status) {
    case "served":
      return t("apply.status.served", { at, lead });
    case "refused":
      return t("apply.status.refused", { at, reason: applicationReason(t, a.reason) });
    case "cancelled":
      return t("apply.status.cancelled", { at });
    default:
      return t("apply.status.pending", { at });
  }
}

/** The agent's 申领 card on its workbench: pick one of its pools and apply (POST .../applications: served at
 * once when the pool has a lead the agent's grade opens, else it waits in turn), see the waiting
 * application's place in turn and cancel it (DELETE), and the last ones served or refused, with why. */
export function ApplyCard() {
  const { t, lang } = useI18n();
  const { message } = App.useApp();
  const me = useMe();
  const queryClient = useQueryClient();
  const applications = useQuery(applicationsQuery(me));
  const held = new Map((useMyLeads().data ?? []).map((lead) => [lead.lead_id, lead.name ?? ""]));
  const pools = applications.data?.pools ?? [];
  const [pool, setPool] = useState<string>();
  useEffect(() => {
    if (!pool && pools.length) setPool(pools[0]);
  }, [pool, pools]);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["applications"] });
    void queryClient.invalidateQueries({ queryKey: ["leads"] });
    void queryClient.invalidateQueries({ queryKey: ["agent"] });
  };
  const apply = useMutation({
    mutationFn: (pool_id: string) =>
      unwrap(allocator.POST("/v1/agents/{agent_id}/applications", { params: { path: { agent_id: me } }, body: { pool_id } })),
    onSuccess: async (made) => {
      refresh();
      if (made.status !== "served" || !made.lead_id) {
        void message.success(t("apply.waitingShort", { position: made.position ?? "—" }));
        return;
      }
      const lead = await queryClient.fetchQuery(leadQuery(made.lead_id)).catch(() => undefined);
      const name = lead?.name || made.lead_id;
      void message.success(t("apply.served", { lead: lang === "zh-CN" ? `「${name}」` : `“${name}”` }));
    },
  });
  const cancel = useMutation({
    mutationFn: (application_id: string) =>
      unwrap(
        allocator.DELETE("/v1/agents/{agent_id}/applications/{application_id}", {
          params: { path: { agent_id: me, application_id } },
        }),
      ),
    onSuccess: () => {
      refresh();
      void message.success(t("apply.cancelled"));
    },
    onError: refresh, // served or refused meanwhile: show what happened
  });
  const items = applications.data?.items ?? [];
  const waiting = items.find((a) => a.status === "pending");
  const decided = items.filter((a) => a.status !== "pending").slice(0, 5);
  const refusal = (error: unknown) => {
    const code = error instanceof ApiError ? error.problem.code : undefined;
    if (!code || !(REASONS as readonly string[]).includes(code)) return undefined;
    if (code !== "not_working") return applicationReason(t, code);
    const status = awayIn((error as ApiError).problem.detail);
    return t("apply.reason.awayNow", { status: (AWAY as readonly string[]).includes(status) ? t(`apply.away.${status}` as MessageKey) : status || "—" });
  };
  return (
    <Card title={<h2 className="card-heading">{t("apply.title")}</h2>} size="small" data-testid="apply-card">
      <Space direction="vertical" style={{ width: "100%" }}>
        <Typography.Text type="secondary">{t("apply.help")}</Typography.Text>
        {applications.error ? <ProblemAlert error={applications.error} onRetry={() => applications.refetch()} /> : null}
        <Space wrap>
          {/* a few pools: buttons, lighter on the workbench's first screen than a select */}
          <fieldset className="apply-pools">
            <legend>{t("apply.pool")}</legend>
            <Radio.Group
              optionType="button"
              value={pool}
              onChange={(e) => setPool(e.target.value as string)}
              options={pools.map((id) => ({ value: id, label: id }))}
              disabled={Boolean(waiting)}
            />
          </fieldset>
          <Button
            type="primary"
            onClick={() => pool && apply.mutate(pool)}
            loading={apply.isPending}
            disabled={!pool || Boolean(waiting)}
          >
            {t("apply.submit")}
          </Button>
        </Space>
        <div aria-live="polite">
          {apply.error ? (
            refusal(apply.error) ? (
              <Typography.Text type="danger" role="alert">
                {refusal(apply.error)}
              </Typography.Text>
            ) : (
              <ProblemAlert error={apply.error} />
            )
          ) : null}
          {cancel.error ? <ProblemAlert error={cancel.error} /> : null}
          {waiting ? (
            <Space wrap data-testid="apply-waiting">
              <Typography.Text strong>{t("apply.waiting", { pool: waiting.pool_id, position: waiting.position ?? "—" })}</Typography.Text>
              <Button onClick={() => cancel.mutate(waiting.application_id)} loading={cancel.isPending}>
                {t("apply.cancel")}
              </Button>
            </Space>
          ) : null}
        </div>
        <Typography.Text type="secondary">{t("apply.recent")}</Typography.Text>
        {decided.length ? (
          <ul className="apply-recent">
            {decided.map((a) => (
              <li key={a.application_id}>
                {a.status === "served" && a.lead_id && held.has(a.lead_id) ? (
                  <Link to={`/leads/${encodeURIComponent(a.lead_id)}`}>{applicationWords(t, lang, a, held.get(a.lead_id))}</Link>
                ) : (
                  applicationWords(t, lang, a)
                )}
              </li>
            ))}
          </ul>
        ) : (
          <Typography.Text type="secondary">{t("apply.none")}</Typography.Text>
        )}
      </Space>
    </Card>
  );
}

/** The status a refused apply's detail names ("... now: not_working (on_break)"), if any. */
function awayIn(detail: string | undefined): string {
  return /not_working \((\w+)\)/.exec(detail ?? "")?.[1] ?? "";
}

export default ApplyCard;
