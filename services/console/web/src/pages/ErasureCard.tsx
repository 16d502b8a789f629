import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Form, Input, Space, Tag, Typography } from "antd";
import { useEffect, useState } from "react";
import { leadIntake, type ErasureView } from "../api/clients";
import { unwrap } from "../api/http";
import { errorWords, ProblemAlert } from "../components/ProblemAlert";
import { useI18n, type Translate } from "../i18n";
import { answered, erasureKey, erasureListKey, isPending, useErasure } from "./erasureQueries";

interface ErasureForm {
  phone?: string;
  email?: string;
  reason?: string;
}

const STATUS_KEYS = {
  pending: "erasure.status.pending",
  complete: "erasure.status.complete",
  nothing_found: "erasure.status.nothing_found",
} as const;

/** Where a request stands, in words: the status, how many services answered, and which. */
function ErasureProgress({ view, t }: { view: ErasureView; t: Translate }) {
  const services = answered(view);
  const key = STATUS_KEYS[view.status as keyof typeof STATUS_KEYS] ?? "erasure.status.pending";
  return (
    <Space direction="vertical" size={4} className={`erasure-progress erasure-${view.status}`}>
      <Typography.Text strong>{t(key, { id: view.request_id, leads: view.lead_ids?.length ?? 0 })}</Typography.Text>
      {view.status === "nothing_found" ? null : (
        <>
          <Typography.Text>
            {t("erasure.progress", { answered: services.length, expected: view.expected_services.length })}
          </Typography.Text>
          {services.length ? (
            <div aria-label={t("erasure.answered")}>
              <Typography.Text type="secondary">{t("erasure.answered")}: </Typography.Text>
              {services.map((service) => (
                <Tag key={service} color={isPending(view) ? "blue" : "green"}>
                  {service}
                </Tag>
              ))}
            </div>
          ) : null}
        </>
      )}
    </Space>
  );
}

/** An operator erases a person's data everywhere, by phone and/or email (POST /v1/erasures on lead-intake, which
 * finds the leads and tells every service), and follows the request until every service has answered. The
 * phone and email typed are sent once and kept nowhere here: the form is emptied once the request is taken,
 * and nothing shown afterwards names the person. */
export function ErasureCard() {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<ErasureForm>();
  const [requestId, setRequestId] = useState<string>();
  const erase = useMutation({
    mutationFn: (values: ErasureForm) =>
      unwrap(
        leadIntake.POST("/v1/erasures", {
          body: {
            phone: values.phone?.trim() || null,
            email: values.email?.trim() || null,
            reason: values.reason?.trim() || null,
          },
        }),
      ),
    onMutate: () => setRequestId(undefined),
    onSuccess: (view) => {
      form.resetFields();
      queryClient.setQueryData(erasureKey(view.request_id), view);
      setRequestId(view.request_id);
      void queryClient.invalidateQueries({ queryKey: erasureListKey });
    },
  });
  const current = useErasure(requestId);
  const view = current.data;
  const settled = view !== undefined && !isPending(view);
  useEffect(() => {
    if (settled) void queryClient.invalidateQueries({ queryKey: erasureListKey });
  }, [settled, queryClient]);
  const needsOne = ({ getFieldValue }: { getFieldValue: (name: string) => unknown }) => ({
    validator: () =>
      `${getFieldValue("phone") ?? ""}${getFieldValue("email") ?? ""}`.trim()
        ? Promise.resolve()
        : Promise.reject(new Error(t("erasure.needsOne"))),
  });
  return (
    <Card title={<h2 className="card-heading">{t("erasure.title")}</h2>} size="small">
      <Space direction="vertical" style={{ width: "100%" }}>
        <Typography.Text type="secondary" id="erasure-help">
          {t("erasure.help")}
        </Typography.Text>
        <Form
          form={form}
          name="erasure"
          layout="inline"
          aria-label={t("erasure.title")}
          aria-describedby="erasure-help"
          onFinish={(values) => erase.mutate(values)}
        >
          <Form.Item name="phone" label={t("erasure.phone")} rules={[needsOne]} dependencies={["email"]}>
            <Input allowClear autoComplete="off" inputMode="tel" />
          </Form.Item>
          <Form.Item name="email" label={t("erasure.email")} rules={[needsOne]} dependencies={["phone"]}>
            <Input allowClear autoComplete="off" inputMode="email" />
          </Form.Item>
          <Form.Item name="reason" label={t("erasure.reason")}>
            <Input allowClear maxLength={500} />
          </Form.Item>
          <Button danger type="primary" htmlType="submit" loading={erase.isPending}>
            {t("erasure.submit")}
          </Button>
        </Form>
        {erase.error ? (
          <Alert type="error" role="alert" showIcon message={t("erasure.refused")} description={errorWords(t, erase.error)} />
        ) : null}
        {/* Always in the page, so that screen readers announce each change of the request's state. */}
        <div role="status" aria-live="polite" aria-atomic="true" data-testid="erasure-status">
          {view ? <ErasureProgress view={view} t={t} /> : null}
        </div>
        {current.error ? <ProblemAlert error={current.error} onRetry={() => current.refetch()} /> : null}
      </Space>
    </Card>
  );
}
