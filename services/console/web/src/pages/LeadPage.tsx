import { ArrowLeftOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  App,
  Alert,
  Button,
  Card,
  Col,
  Descriptions,
  Form,
  Input,
  InputNumber,
  Row,
  Space,
  Typography,
} from "antd";
import { Link, useNavigate, useParams } from "react-router-dom";
import { allocator, FUNNEL_STEPS, type StageIn } from "../api/clients";
import { unwrap } from "../api/http";
import { leadQuery, useMe } from "../api/queries";
import { useSession } from "../api/session";
import { ProblemAlert } from "../components/ProblemAlert";
import { ReclaimClock } from "../components/ReclaimClock";
import { StageControl } from "../components/StageControl";
import { StageProgress } from "../components/StageProgress";
import { usePageTitle, useI18n } from "../i18n";
import { ConsentCard } from "./ConsentCard";
import { DealMarkCard } from "./DealMarkCard";
import { CallResultForm, DialButton } from "./LeadCall";
import { LeadHistoryTimeline } from "./LeadHistoryTimeline";
import { HotMarker, RestMarker } from "./LeadsPage";
import { PushMissedNote } from "./pushMissed";
import { ScoreBreakdown } from "./ScoreBreakdown";

export default function LeadPage() {
  const { t, lang } = useI18n();
  const { leadId = "" } = useParams();
  const me = useMe();
  const session = useSession();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const lead = useQuery(leadQuery(leadId));
  const roles = session.data?.user.roles ?? [];
  const supervisor = roles.includes("supervisor") || roles.includes("admin");
  usePageTitle(lead.data ? lead.data.name || lead.data.lead_id : t("leads.detail"));
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["lead", leadId] });
    void queryClient.invalidateQueries({ queryKey: ["lead-history", leadId] });
    void queryClient.invalidateQueries({ queryKey: ["leads"] });
  };
  const path = { params: { path: { lead_id: leadId } } };
  const stage = useMutation({
    mutationFn: (body: Omit<StageIn, "agent_id">) =>
      unwrap(allocator.POST("/v1/leads/{lead_id}/stage", { ...path, body: { ...body, agent_id: me } })),
    onSuccess: (_, body) => {
      // Setting the deal mark asks the supervisor: the agent is told it waits, not that it is set.
      void message.success(t(body.deal_in_progress ? "stage.dealAsked" : "stage.saved"));
      refresh();
    },
  });
  const giveBack = useMutation({
    mutationFn: (reason: string) =>
      unwrap(allocator.POST("/v1/leads/{lead_id}/return", { ...path, body: { agent_id: me, reason } })),
    onSuccess: () => {
      void message.success(t("work.returned"));
      void queryClient.invalidateQueries({ queryKey: ["leads"] });
      navigate("/leads");
    },
  });
  const win = useMutation({
    mutationFn: (yuan: number) =>
      unwrap(
        allocator.POST("/v1/leads/{lead_id}/win", {
          ...path,
          body: { agent_id: me, amount_fen: Math.round(yuan * 100) },
        }),
      ),
    onSuccess: () => {
      void message.success(t("work.won"));
      refresh();
    },
  });

  const back = (
    <Link to="/leads">
      <ArrowLeftOutlined aria-hidden /> {t("common.back")}
    </Link>
  );
  if (lead.isLoading) return <Card loading aria-busy="true" />;
  if (lead.error || !lead.data)
    return (
      <Space direction="vertical">
        {back}
        <ProblemAlert error={lead.error} onRetry={() => lead.refetch()} />
      </Space>
    );
  const data = lead.data;
  const resting = data.rest_until && new Date(data.rest_until).getTime() > Date.now();
  const when = (value: string | null | undefined) => (value ? new Date(value).toLocaleString(lang) : "—");
  const step = data.funnel_step as (typeof FUNNEL_STEPS)[number] | null;
  // The holder's own acts (stage, win, return): offered only to the holder, as the allocator allows them.
  const holds = data.status === "held" && data.holder === me;
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      {back}
      <Space align="center" wrap>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {data.name || data.lead_id}
        </Typography.Title>
        <HotMarker lead={data} />
        <RestMarker restUntil={data.rest_until} />
      </Space>
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={14}>
          <Card title={t("leads.detail")}>
            <Space direction="vertical" style={{ width: "100%" }}>
              <StageProgress percent={data.stage_percent} />
              <ReclaimClock reclaim={data.reclaim} />
              <PushMissedNote lead={data} />
              {data.masked_reason ? (
                <Alert
                  type={data.masked_reason === "masked_dialing_only" ? "info" : "warning"}
                  showIcon
                  role="status"
                  message={t(`leads.masked.${data.masked_reason}`)}
                />
              ) : null}
              <Descriptions column={{ xs: 1, md: 2 }} size="small">
                <Descriptions.Item label={t("leads.phone")}>{data.phone ?? "—"}</Descriptions.Item>
                <Descriptions.Item label={t("leads.company")}>{data.company ?? "—"}</Descriptions.Item>
                <Descriptions.Item label={t("leads.funnel")}>
                  {step && FUNNEL_STEPS.includes(step) ? t(`funnel.${step}`) : "—"}
                </Descriptions.Item>
                <Descriptions.Item label={t("leads.deal")}>
                  {data.deal_in_progress ? t("common.yes") : t("common.no")}
                </Descriptions.Item>
                <Descriptions.Item label={t("leads.calls")}>{data.call_count}</Descriptions.Item>
                <Descriptions.Item label={t("leads.lastCall")}>
                  {data.last_call_at ? when(data.last_call_at) : t("leads.never")}
                </Descriptions.Item>
                <Descriptions.Item label={t("leads.heldSince")}>{when(data.held_since)}</Descriptions.Item>
                <Descriptions.Item label={t("leads.grade")}>{data.lead_grade}</Descriptions.Item>
                <Descriptions.Item label={t("leads.score")}>{data.score}</Descriptions.Item>
                <Descriptions.Item label={t("leads.region")}>{data.region ?? "—"}</Descriptions.Item>
                <Descriptions.Item label={t("leads.product")}>{data.product_interest ?? "—"}</Descriptions.Item>
                <Descriptions.Item label={t("leads.business")}>{data.business_line}</Descriptions.Item>
                <Descriptions.Item label={t("leads.pool")}>{data.pool_id}</Descriptions.Item>
                <Descriptions.Item label={t("leads.drops")}>{data.drop_count}</Descriptions.Item>
                <Descriptions.Item label={t("leads.buyer")}>{data.buyer ? t("common.yes") : t("common.no")}</Descriptions.Item>
                {data.win ? (
                  <Descriptions.Item label={t("leads.win")}>
                    {data.win.state === "confirmed"
                      ? t("leads.winConfirmed")
                      : data.win.state === "rejected"
                        ? t("leads.winRejected", {
                            by: t(data.win.rejected_by === "order" ? "leads.rejectedByOrder" : "leads.rejectedBySupervisor"),
                            reason: data.win.reason ?? "—",
                          })
                        : t("leads.winUnconfirmed")}
                  </Descriptions.Item>
                ) : null}
              </Descriptions>
            </Space>
          </Card>
          <Card title={<h2 className="card-heading">{t("score.title")}</h2>} style={{ marginTop: 16 }}>
            <ScoreBreakdown lead={data} />
          </Card>
          <Card title={<h2 className="card-heading">{t("leads.history")}</h2>} style={{ marginTop: 16 }}>
            <LeadHistoryTimeline leadId={data.lead_id} />
          </Card>
        </Col>
        <Col xs={24} lg={10}>
          <Space direction="vertical" size="middle" style={{ width: "100%" }}>
            <Card title={<h2 className="card-heading">{t("leads.consent")}</h2>}>
              <ConsentCard lead={data} />
            </Card>
            <Card title={t("work.callShort")}>
              {resting ? <Alert type="warning" showIcon message={<RestMarker restUntil={data.rest_until} />} /> : null}
              {data.phone && (!data.phone_masked || data.masked_reason === "masked_dialing_only") ? (
                <DialButton leadId={data.lead_id} phone={data.phone} masked={data.phone_masked} dialerUrl={session.data?.dialer_url} />
              ) : (
                <Typography.Text type="secondary">{t("work.noPhone")}</Typography.Text>
              )}
            </Card>
            <Card title={t("work.logCall")}>
              <CallResultForm leadId={data.lead_id} onLogged={refresh} />
            </Card>
            <Card title={t("deal.title")}>
              <DealMarkCard lead={data} me={me} supervisor={supervisor} onChanged={refresh} />
            </Card>
            {holds ? (
              <>
                <Card title={t("stage.move")}>
                  <StageControl key={`${data.stage_percent}-${data.deal_mark?.status}`} value={data} busy={stage.isPending} onSubmit={(body) => stage.mutate(body)} />
                  {stage.error ? <ProblemAlert error={stage.error} /> : null}
                </Card>
                <Card title={t("work.win")}>
                  <Form layout="vertical" aria-label={t("work.win")} onFinish={(values: { yuan: number }) => win.mutate(values.yuan)}>
                    <Form.Item
                      label={t("work.amount")}
                      name="yuan"
                      rules={[{ required: true, type: "number", min: 0.01, message: t("work.amountRequired") }]}
                    >
                      <InputNumber min={0.01} step={100} precision={2} style={{ width: 200 }} />
                    </Form.Item>
                    {win.error ? <ProblemAlert error={win.error} /> : null}
                    <Button htmlType="submit" loading={win.isPending}>
                      {t("work.win")}
                    </Button>
                  </Form>
                </Card>
                <Card title={t("work.return")}>
                  <Form layout="vertical" aria-label={t("work.return")} onFinish={(values: { reason: string }) => giveBack.mutate(values.reason.trim())}>
                    <Form.Item
                      label={t("work.reason")}
                      name="reason"
                      rules={[{ required: true, whitespace: true, max: 500, message: t("work.reasonRequired") }]}
                    >
                      <Input.TextArea rows={2} maxLength={500} />
                    </Form.Item>
                    {giveBack.error ? <ProblemAlert error={giveBack.error} /> : null}
                    <Button danger htmlType="submit" loading={giveBack.isPending}>
                      {t("work.return")}
                    </Button>
                  </Form>
                </Card>
              </>
            ) : null}
          </Space>
        </Col>
      </Row>
    </Space>
  );
}
