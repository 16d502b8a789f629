// KeyOutlined, not LoginOutlined: that icon's SVG holds an empty <style> a strict style-src reports.
import { KeyOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Divider, Form, Input, Space, Typography } from "antd";
import { Navigate, useSearchParams } from "react-router-dom";
import { ApiError } from "../api/problem";
import { devLogin, sessionKey, useSession, useSignInMethods } from "../api/session";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { ProblemAlert } from "../components/ProblemAlert";
import { usePageTitle, useI18n } from "../i18n";

/** Only same-site paths are followed after sign-in. */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "/leads";
}

export default function LoginPage() {
  const { t } = useI18n();
  usePageTitle(t("login.title"));
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const session = useSession();
  const methods = useSignInMethods();
  const queryClient = useQueryClient();
  const login = useMutation({
    mutationFn: (agentId: string) => devLogin(agentId),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: sessionKey }),
  });
  if (session.isSuccess) return <Navigate to={next} replace />;
  const problem = session.error instanceof ApiError ? session.error.problem : undefined;
  const ssoHref = problem?.login_url ?? `/auth/login?next=${encodeURIComponent(next)}`;
  return (
    <main className="login-page">
      <Card className="login-card">
        <Space direction="vertical" size="middle" style={{ width: "100%" }}>
          <div className="notification-head">
            <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
              {t("login.title")}
            </Typography.Title>
            <LanguageSwitch />
          </div>
          {methods.data?.sso ? (
            <Button type="primary" block icon={<KeyOutlined />} href={ssoHref}>
              {t("login.sso")}
            </Button>
          ) : null}
          {methods.data?.sso && methods.data?.development ? <Divider plain>{t("login.or")}</Divider> : null}
          {methods.error ? <ProblemAlert error={methods.error} /> : null}
          {methods.data?.development ? (
            <>
              <Typography.Title level={2} style={{ fontSize: 16, margin: 0 }}>
                {t("login.dev")}
              </Typography.Title>
              <Form layout="vertical" onFinish={(values: { agent_id: string }) => login.mutate(values.agent_id.trim())}>
                <Form.Item
                  label={t("login.agentId")}
                  name="agent_id"
                  extra={t("login.agentIdHelp")}
                  rules={[{ required: true, whitespace: true, message: t("login.required") }]}
                >
                  <Input autoComplete="username" />
                </Form.Item>
                {login.error ? <ProblemAlert error={login.error} /> : null}
                <Button htmlType="submit" block loading={login.isPending} style={{ marginTop: 12 }}>
                  {t("login.submit")}
                </Button>
              </Form>
            </>
          ) : null}
        </Space>
      </Card>
    </main>
  );
}
