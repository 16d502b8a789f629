import { ArrowLeftOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Form, Input, Rate, Row, Space, Typography } from "antd";
import { Link, useParams } from "react-router-dom";
import { ledger, marketplace, type PurchaseView } from "../api/clients";
import { unwrap } from "../api/http";
import { ApiError } from "../api/problem";
import { tipQuery, useLedgerUser } from "../api/queries";
import { useSession } from "../api/session";
import { ProblemAlert } from "../components/ProblemAlert";
import { usePageTitle, useI18n, type Translate } from "../i18n";
import { TipMedia } from "./TipMedia";
import { TipSummary } from "./TipsPage";

function refusalWords(t: Translate, refusal: Record<string, unknown> | null | undefined): string {
  if (!refusal) return "";
  const text = refusal.detail ?? refusal.message ?? refusal.reason;
  const limit = refusal.limit ?? refusal.daily_limit;
  return [text, limit ? `${String(limit)}` : undefined].filter(Boolean).join(" · ") || t("tier.unknown");
}

function limitsWords(value: Record<string, unknown> | undefined): string | undefined {
  const limits = value?.daily_limits as Record<string, number | null> | undefined;
  if (!limits) return undefined;
  return Object.entries(limits)
    .filter(([, limit]) => limit != null)
    .map(([name, limit]) => `${name}: ${limit}`)
    .join(", ");
}

/** antd's Rate is a <ul> of role="radio" stars: the group gets its role and name here (an aria-label on the
 * <ul> itself is not allowed). Form.Item passes value, onChange and id. */
function StarRating({ label, id, value, onChange }: { label: string; id?: string; value?: number; onChange?: (v: number) => void }) {
  return (
    <div role="radiogroup" aria-label={label} id={id}>
      <Rate value={value} onChange={onChange} />
    </div>
  );
}

export default function TipPage() {
  const { t } = useI18n();
  const { tipId = "" } = useParams();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const session = useSession();
  const path = { params: { path: { tip_id: tipId } } };
  const tip = useQuery(tipQuery(tipId));
  usePageTitle(tip.data ? tip.data.title || t("tips.untitled") : t("tips.title"));
  const purchase = useQuery<PurchaseView | null>({
    queryKey: ["purchase", tipId],
    queryFn: async () => {
      try {
        return await unwrap(marketplace.GET("/v1/tips/{tip_id}/purchases/mine", path));
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    },
    // Pending until the ledger answers: the live notification refreshes it, polling covers a missed one.
    refetchInterval: (query) => (query.state.data?.status === "pending" ? 3000 : false),
  });
  const wallet = useLedgerUser();
  const supervisor = session.data?.user.roles.includes("supervisor") ?? false;
  const policy = useQuery({
    queryKey: ["policy"],
    enabled: supervisor,
    retry: false,
    queryFn: () => unwrap(ledger.GET("/v1/config/policy")),
  });
  const access = Boolean(tip.data?.access) || purchase.data?.status === "granted";
  const content = useQuery({
    queryKey: ["tip", tipId, "content"],
    enabled: access,
    queryFn: () => unwrap(marketplace.GET("/v1/tips/{tip_id}/content", path)),
  });
  const buy = useMutation({
    mutationFn: () => unwrap(marketplace.POST("/v1/tips/{tip_id}/purchases", path)),
    onSuccess: (view) => {
      if (view) queryClient.setQueryData(["purchase", tipId], view);
      void queryClient.invalidateQueries({ queryKey: ["purchase", tipId] });
      void queryClient.invalidateQueries({ queryKey: ["wallet"] });
    },
  });
  const rate = useMutation({
    mutationFn: (body: { stars: number; comment?: string }) =>
      unwrap(marketplace.POST("/v1/tips/{tip_id}/ratings", { ...path, body: { stars: body.stars, comment: body.comment || null } })),
    onSuccess: () => {
      void message.success(t("tips.rated"));
      void queryClient.invalidateQueries({ queryKey: ["tip", tipId] });
    },
  });
  const forward = useMutation({
    mutationFn: (body: { to_user_id: string; note?: string }) =>
      unwrap(
        marketplace.POST("/v1/tips/{tip_id}/forwards", {
          ...path,
          body: { to_user_id: body.to_user_id.trim(), note: body.note?.trim() || null },
        }),
      ),
    onSuccess: () => void message.success(t("tips.forwarded")),
  });

  const back = (
    <Link to="/tips">
      <ArrowLeftOutlined aria-hidden /> {t("common.back")}
    </Link>
  );
  if (tip.isLoading) return <Card loading aria-busy="true" />;
  if (tip.error || !tip.data)
    return (
      <Space direction="vertical">
        {back}
        <ProblemAlert error={tip.error} onRetry={() => tip.refetch()} />
      </Space>
    );
  const data = tip.data;
  const title = data.title || t("tips.untitled");
  const status = purchase.data?.status;
  const limits = limitsWords(policy.data?.value);
  const media = content.data?.media;
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      {back}
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {title}
      </Typography.Title>
      <TipSummary tip={data} />
      {data.summary ? <Typography.Paragraph>{data.summary}</Typography.Paragraph> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={15}>
          {access ? (
            <Card title={t("tips.learn")}>
              {content.error ? <ProblemAlert error={content.error} /> : null}
              {media ? <TipMedia tipId={tipId} contentType={media.content_type} title={title} /> : null}
              {content.data && !media ? <Typography.Text type="secondary">{t("tips.noMedia")}</Typography.Text> : null}
              {content.data?.body ? (
                <>
                  <Typography.Title level={2} style={{ fontSize: 16, marginTop: 16 }}>
                    {t("tips.content")}
                  </Typography.Title>
                  <Typography.Paragraph className="tip-body">{content.data.body}</Typography.Paragraph>
                </>
              ) : null}
            </Card>
          ) : (
            <Card title={t("tips.buy", { price: data.price ?? 0 })}>
              <Space direction="vertical" style={{ width: "100%" }}>
                {wallet.data ? <Typography.Text>{t("tips.balance", { wallet: wallet.data.wallet })}</Typography.Text> : null}
                {limits ? <Typography.Text type="secondary">{t("tips.limits", { limits })}</Typography.Text> : null}
                <div aria-live="polite">
                  {status === "pending" ? <Alert type="info" showIcon message={t("tips.pending")} /> : null}
                  {status === "refused" ? (
                    <Alert type="error" showIcon message={t("tips.refused", { reason: refusalWords(t, purchase.data?.refusal) })} />
                  ) : null}
                </div>
                {buy.error ? <ProblemAlert error={buy.error} /> : null}
                <Button
                  type="primary"
                  loading={buy.isPending || status === "pending"}
                  onClick={() => buy.mutate()}
                  disabled={status === "pending"}
                >
                  {t("tips.buy", { price: data.price ?? 0 })}
                </Button>
              </Space>
            </Card>
          )}
        </Col>
        {access ? (
          <Col xs={24} lg={9}>
            <Space direction="vertical" size="middle" style={{ width: "100%" }}>
              {status === "granted" ? <Alert type="success" showIcon message={t("tips.granted")} /> : null}
              <Card title={t("tips.rate")}>
                <Form layout="vertical" aria-label={t("tips.rate")} onFinish={(values: { stars: number; comment?: string }) => rate.mutate(values)}>
                  <Form.Item label={t("tips.rate")} name="stars" rules={[{ required: true }]}>
                    <StarRating label={t("tips.rate")} />
                  </Form.Item>
                  <Form.Item label={t("tips.comment")} name="comment">
                    <Input.TextArea rows={2} maxLength={2000} />
                  </Form.Item>
                  {rate.error ? <ProblemAlert error={rate.error} /> : null}
                  <Button htmlType="submit" loading={rate.isPending}>
                    {t("common.submit")}
                  </Button>
                </Form>
              </Card>
              <Card title={t("tips.forward")}>
                <Form
                  layout="vertical"
                  aria-label={t("tips.forward")}
                  onFinish={(values: { to_user_id: string; note?: string }) => forward.mutate(values)}
                >
                  <Form.Item label={t("tips.forwardTo")} name="to_user_id" rules={[{ required: true, whitespace: true }]}>
                    <Input />
                  </Form.Item>
                  <Form.Item label={t("tips.forwardNote")} name="note">
                    <Input maxLength={500} />
                  </Form.Item>
                  {forward.error ? <ProblemAlert error={forward.error} /> : null}
                  <Button htmlType="submit" loading={forward.isPending}>
                    {t("tips.forward")}
                  </Button>
                </Form>
              </Card>
            </Space>
          </Col>
        ) : null}
      </Row>
    </Space>
  );
}
