import { PhoneOutlined } from "@ant-design/icons";
import { useMutation } from "@tanstack/react-query";
import { Alert, App, Button, DatePicker, Form, InputNumber, Radio, Select, Switch } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useState } from "react";
import { allocator, CALL_STAGES, type CallStage, type DialBinding } from "../api/clients";
import { unwrap } from "../api/http";
import { ApiError } from "../api/problem";
import { dialerHref, logCall } from "../api/session";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n } from "../i18n";
import { dialRefusalWords } from "./dialRefusal";

/** The call button: asks the allocator first (POST /v1/leads/{id}/dial: only the holder, not while the lead
 * rests, never a do-not-call number) and opens the dialer only when it allows; else says why, in words. When
 * the tenant calls through a number-privacy provider, the answer carries a middle number bound to the
 * customer for a few minutes: the dialer dials that, and the page says which number and until when (the
 * customer's number is never needed, and in a masked-only tenant never shown: `masked`). */
export function DialButton({
  leadId,
  phone,
  masked = false,
  dialerUrl,
}: {
  leadId: string;
  phone: string;
  masked?: boolean;
  dialerUrl?: string | null;
}) {
  const { t } = useI18n();
  const [refusal, setRefusal] = useState<string>();
  const [via, setVia] = useState<DialBinding>();
  const ask = useMutation({
    mutationFn: () =>
      unwrap(allocator.POST("/v1/leads/{lead_id}/dial", { params: { path: { lead_id: leadId } }, body: { check_only: false } })),
    onMutate: () => {
      setRefusal(undefined);
      setVia(undefined);
    },
    onSuccess: (answer) => {
      if (!answer.allowed) {
        setRefusal(dialRefusalWords(t, answer));
      } else if (answer.binding) {
        setVia(answer.binding);
        window.location.assign(dialerHref(dialerUrl, answer.binding.middle_number, leadId));
      } else if (masked) {
        setRefusal(t("work.noPhone")); // no binding and no number: nothing to dial
      } else {
        window.location.assign(dialerHref(dialerUrl, phone, leadId));
      }
    },
  });
  return (
    <>
      <Button
        type="primary"
        size="large"
        icon={<PhoneOutlined aria-hidden />}
        loading={ask.isPending}
        onClick={() => ask.mutate()}
        style={{ marginTop: 8 }}
      >
        {t("work.call", { phone })}
      </Button>
      {via ? <ViaPrivacyNumber binding={via} leadId={leadId} dialerUrl={dialerUrl} /> : null}
      {refusal ? <Alert type="error" role="alert" showIcon message={refusal} data-testid="dial-refused" style={{ marginTop: 8 }} /> : null}
      {ask.error ? <DialError error={ask.error} /> : null}
    </>
  );
}

/** Which middle number the call goes through and until when it reaches the customer; a link to dial it again. */
function ViaPrivacyNumber({ binding, leadId, dialerUrl }: { binding: DialBinding; leadId: string; dialerUrl?: string | null }) {
  const { t } = useI18n();
  const number = binding.middle_number;
  return (
    <Alert
      type="info"
      role="status"
      showIcon
      data-testid="dial-via-privacy"
      style={{ marginTop: 8 }}
      message={t("work.viaPrivacy", { number, until: dayjs(binding.expires_at).format("HH:mm:ss") })}
      description={<a href={dialerHref(dialerUrl, number, leadId)}>{t("work.dialMiddle", { number })}</a>}
    />
  );
}

/** A provider that could not bind a middle number (the allocator's privacy_* problems), in words. */
const PRIVACY_WORDS: Record<string, "work.privacy.pool_exhausted" | "work.privacy.unavailable"> = {
  privacy_pool_exhausted: "work.privacy.pool_exhausted",
  privacy_provider_timeout: "work.privacy.unavailable",
  privacy_provider_unavailable: "work.privacy.unavailable",
};

function DialError({ error }: { error: unknown }) {
  const { t } = useI18n();
  const code = error instanceof ApiError ? error.problem.code : undefined;
  if (typeof code === "string" && code.startsWith("privacy_")) {
    return <Alert type="error" role="alert" showIcon style={{ marginTop: 8 }} message={t(PRIVACY_WORDS[code] ?? "work.privacy.misconfigured")} />;
  }
  return <ProblemAlert error={error} />;
}

interface CallForm {
  connected: boolean;
  duration_seconds: number;
  started_at: Dayjs;
  stage_reached?: CallStage;
  outcome?: "progressed" | "no_progress";
}

/** A refused log (the BFF's 409 dial_refused) in the same words as the call button's; other failures as they came. */
function LogError({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (error instanceof ApiError && error.problem.code === "dial_refused") {
    return <Alert type="error" role="alert" showIcon message={dialRefusalWords(t, error.problem)} />;
  }
  return <ProblemAlert error={error} />;
}

/** Logs a call's result (POST /v1/calls), with where the call ended and whether it progressed: a call that
 * ends at a stage without progress makes the marketplace push a tip for that stage. */
export function CallResultForm({ leadId, onLogged }: { leadId: string; onLogged: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [form] = Form.useForm<CallForm>();
  const log = useMutation({
    // One call_id per logged call: a retry of the same submit is not counted twice by the BFF.
    mutationFn: (values: CallForm & { call_id: string }) =>
      logCall({
        lead_id: leadId,
        call_id: values.call_id,
        connected: values.connected,
        duration_seconds: values.connected ? values.duration_seconds : 0,
        started_at: values.started_at.toISOString(),
        stage_reached: values.stage_reached ?? null,
        outcome: values.outcome ?? null,
      }),
    onSuccess: () => {
      void message.success(t("work.logged"));
      form.resetFields();
      onLogged();
    },
  });
  return (
    <Form<CallForm>
      form={form}
      layout="vertical"
      aria-label={t("work.logCall")}
      initialValues={{ connected: true, duration_seconds: 60, started_at: dayjs() }}
      onFinish={(values) => log.mutate({ ...values, call_id: crypto.randomUUID() })}
    >
      <Form.Item label={t("work.connected")} name="connected" valuePropName="checked">
        <Switch aria-label={t("work.connected")} />
      </Form.Item>
      <Form.Item label={t("work.duration")} name="duration_seconds" rules={[{ required: true }]}>
        <InputNumber min={0} max={86400} step={10} style={{ width: 160 }} />
      </Form.Item>
      <Form.Item label={t("work.startedAt")} name="started_at" rules={[{ required: true }]}>
        <DatePicker showTime />
      </Form.Item>
      <Form.Item label={t("work.stageReached")} name="stage_reached" htmlFor="call-stage-reached">
        <Select<CallStage>
          id="call-stage-reached"
          allowClear
          aria-label={t("work.stageReached")}
          options={CALL_STAGES.map((stage) => ({ value: stage, label: t(`stage.call.${stage}`) }))}
          style={{ width: 200 }}
        />
      </Form.Item>
      <Form.Item label={t("work.outcome")} name="outcome">
        <Radio.Group aria-label={t("work.outcome")}>
          <Radio value="progressed">{t("work.outcome.progressed")}</Radio>
          <Radio value="no_progress">{t("work.outcome.no_progress")}</Radio>
        </Radio.Group>
      </Form.Item>
      {log.error ? <LogError error={log.error} /> : null}
      <Button type="primary" htmlType="submit" loading={log.isPending} style={{ marginTop: 8 }}>
        {t("work.logCall")}
      </Button>
    </Form>
  );
}
