import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Form, Input, Space, Typography } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { allocator, type DealMarkDecisionIn, type DealMarkView, type LeadView } from "../api/clients";
import { unwrap } from "../api/http";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n, type Lang, type Translate } from "../i18n";

const format = (iso: string | null | undefined) => (iso ? dayjs(iso).format("YYYY-MM-DD HH:mm") : "—");

/** The mark's state in words: none, waiting for the supervisor, approved until when (or expired), refused. */
export function dealMarkWords(t: Translate, lang: Lang, mark: DealMarkView | null | undefined, now = Date.now()): string {
  const clause = (value: string | null | undefined) =>
    value?.trim() ? (lang === "zh-CN" ? `：${value.trim()}` : `: ${value.trim()}`) : "";
  if (!mark) return t("deal.none");
  switch (mark.status) {
    case "pending":
      return t("deal.pending", {
        agent: mark.agent_id,
        at: format(mark.requested_at),
        note: mark.note?.trim() ? (lang === "zh-CN" ? `，${mark.note.trim()}` : `: ${mark.note.trim()}`) : "",
      });
    case "approved":
      return mark.expires_at && new Date(mark.expires_at).getTime() <= now
        ? t("deal.expired", { until: format(mark.expires_at) })
        : t("deal.approved", { until: format(mark.expires_at) });
    case "refused":
      return t("deal.refused", { reason: clause(mark.reason) });
  }
  return t("deal.none");
}

/** The lead's deal-in-progress mark: its state; the holder asks for it (POST /v1/leads/{id}/deal-mark: it
 * protects nothing until approved); the holder's supervisor approves or refuses a pending request
 * (POST /v1/leads/{id}/deal-mark/decision). The allocator decides who may do which. */
export function DealMarkCard({
  lead,
  me,
  supervisor,
  onChanged,
}: {
  lead: Pick<LeadView, "lead_id" | "holder" | "deal_mark" | "status">;
  me: string;
  supervisor: boolean;
  onChanged: () => void;
}) {
  const { t, lang } = useI18n();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [note, setNote] = useState("");
  const [reason, setReason] = useState("");
  const path = { params: { path: { lead_id: lead.lead_id } } };
  const mark = lead.deal_mark;
  const ask = useMutation({
    mutationFn: () =>
      unwrap(allocator.POST("/v1/leads/{lead_id}/deal-mark", { ...path, body: { agent_id: me, note: note.trim() || null } })),
    onSuccess: () => {
      void message.success(t("deal.asked"));
      setNote("");
      onChanged();
    },
  });
  const decide = useMutation({
    mutationFn: (decision: DealMarkDecisionIn["decision"]) =>
      unwrap(
        allocator.POST("/v1/leads/{lead_id}/deal-mark/decision", {
          ...path,
          body: { request_id: mark?.request_id ?? "", decision, reason: reason.trim() || null },
        }),
      ),
    onSuccess: (_, decision) => {
      void message.success(t(decision === "approved" ? "deal.approvedDone" : "deal.refusedDone"));
      setReason("");
      void queryClient.invalidateQueries({ queryKey: ["deal-marks"] }); // the supervisors' waiting list
      onChanged();
    },
  });
  const pending = mark?.status === "pending";
  const inForce = mark?.status === "approved" && (!mark.expires_at || new Date(mark.expires_at).getTime() > Date.now());
  const holder = lead.holder === me && lead.status === "held";
  const decides = supervisor && pending && mark?.agent_id !== me;
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Typography.Text data-testid="deal-mark-state" strong>
        {dealMarkWords(t, lang, mark)}
      </Typography.Text>
      <Typography.Text type="secondary">{t("deal.help")}</Typography.Text>
      {holder && !pending && !inForce ? (
        <Form layout="vertical" aria-label={t("deal.ask")} onFinish={() => ask.mutate()}>
          <Form.Item label={t("deal.note")} htmlFor="deal-note">
            <Input.TextArea id="deal-note" rows={2} maxLength={1000} value={note} onChange={(e) => setNote(e.target.value)} />
          </Form.Item>
          {ask.error ? <ProblemAlert error={ask.error} /> : null}
          <Button htmlType="submit" loading={ask.isPending}>
            {t("deal.ask")}
          </Button>
        </Form>
      ) : null}
      {decides ? (
        <Form layout="vertical" aria-label={t("deal.waiting")}>
          <Typography.Text type="warning">{t("deal.waiting")}</Typography.Text>
          <Form.Item label={t("deal.reason")} htmlFor="deal-reason">
            <Input.TextArea id="deal-reason" rows={2} maxLength={1000} value={reason} onChange={(e) => setReason(e.target.value)} />
          </Form.Item>
          {decide.error ? <ProblemAlert error={decide.error} /> : null}
          <Space>
            <Button type="primary" loading={decide.isPending && decide.variables === "approved"} onClick={() => decide.mutate("approved")}>
              {t("deal.approve")}
            </Button>
            <Button danger loading={decide.isPending && decide.variables === "refused"} onClick={() => decide.mutate("refused")}>
              {t("deal.refuse")}
            </Button>
          </Space>
        </Form>
      ) : null}
    </Space>
  );
}
