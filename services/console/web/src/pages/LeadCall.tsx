import { PhoneOutlined } from "@ant-design/icons";
import { useMutation } from "@tanstack/react-query";
import { Alert, App, Button, DatePicker, Form, InputNumber, Radio, Select, Switch } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useState } from "react";
import { allocator, CALL_STAGES, type CallStage } from "../api/clients";
import { unwrap } from "../api/http";
import { ApiError } from "../api/problem";
import { dialerHref, logCall } from "../api/session";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n } from "../i18n";
import { dialRefusalWords } from "./dialRefusal";

/** The call button: asks the allocator first (POST /v1/leads/{id}/dial: only the holder, not while the lead
 * rests, never a do-not-call number) and opens the dialer only when it allows; else says why, in words. */
export function DialButton({ leadId, phone, dialerUrl }: { leadId: string; phone: string; dialerUrl?: string | null }) {
  const { t } = useI18n();
  const [refusal, setRefusal] = useState<string>();
  const ask = useMutation({
    mutationFn: () =>
      unwrap(allocator.POST("/v1/leads/{lead_id}/dial", { params: { path: { lead_id: leadId } }, body: {} })),
    onMutate: () => setRefusal(undefined),
    onSuccess: (answer) => {
      if (answer.allowed) {
        window.location.assign(dialerHref(dialerUrl, phone, leadId));
        return;
      }
      setRefusal(dialRefusalWords(t, answer));
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
      {refusal ? <Alert type="error" role="alert" showIcon message={refusal} data-testid="dial-refused" style={{ marginTop: 8 }} /> : null}
      {ask.error ? <ProblemAlert error={ask.error} /> : null}
    </>
  );
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
