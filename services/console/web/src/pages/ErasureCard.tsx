import { useMutation } from "@tanstack/react-query";
import { Alert, Button, Card, Form, Input, Space, Typography } from "antd";
import { leadIntake, type ErasureView } from "../api/clients";
import { unwrap } from "../api/http";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n } from "../i18n";

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

/** An operator erases a person's data everywhere, by phone and/or email (POST /v1/erasures on lead-intake, which
 * finds the leads and tells every service). The answer says how many leads were found and the request's id;
 * the phone and email typed are sent once and kept nowhere here. */
export function ErasureCard() {
  const { t } = useI18n();
  const [form] = Form.useForm<ErasureForm>();
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
    onSuccess: () => form.resetFields(),
  });
  const answer: ErasureView | undefined = erase.data;
  const needsOne = ({ getFieldValue }: { getFieldValue: (name: string) => unknown }) => ({
    validator: () =>
      `${getFieldValue("phone") ?? ""}${getFieldValue("email") ?? ""}`.trim()
        ? Promise.resolve()
        : Promise.reject(new Error(t("erasure.needsOne"))),
  });
  return (
    <Card title={t("erasure.title")} size="small">
      <Space direction="vertical" style={{ width: "100%" }}>
        <Typography.Text type="secondary">{t("erasure.help")}</Typography.Text>
        <Form form={form} layout="inline" aria-label={t("erasure.title")} onFinish={(values) => erase.mutate(values)}>
          <Form.Item name="phone" label={t("erasure.phone")} rules={[needsOne]} dependencies={["email"]}>
            <Input allowClear autoComplete="off" />
          </Form.Item>
          <Form.Item name="email" label={t("erasure.email")} rules={[needsOne]} dependencies={["phone"]}>
            <Input allowClear autoComplete="off" />
          </Form.Item>
          <Form.Item name="reason" label={t("erasure.reason")}>
            <Input allowClear maxLength={500} />
          </Form.Item>
          <Button danger type="primary" htmlType="submit" loading={erase.isPending}>
            {t("erasure.submit")}
          </Button>
        </Form>
        {erase.error ? <ProblemAlert error={erase.error} /> : null}
        {answer ? (
          <Alert
            role="status"
            type={answer.status === "nothing_found" ? "info" : "success"}
            message={t(STATUS_KEYS[answer.status as keyof typeof STATUS_KEYS] ?? "erasure.status.pending", {
              id: answer.request_id,
              leads: answer.lead_ids?.length ?? 0,
            })}
          />
        ) : null}
      </Space>
    </Card>
  );
}
