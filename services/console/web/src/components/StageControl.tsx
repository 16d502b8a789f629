import { Button, Form, Input, Select, Slider, Switch } from "antd";
import { useState } from "react";
import { FUNNEL_STEPS, type FunnelStep, type StageIn } from "../api/clients";
import { useI18n } from "../i18n";
import { stageGoal, stageLayer } from "./stage";

export interface StageValue {
  stage_percent: number;
  funnel_step?: string | null;
  deal_in_progress?: boolean;
  /** The mark's request: a pending one shows the switch on (asked for), so a stage move does not withdraw it. */
  deal_mark?: { status: string } | null;
}

/** Moves a lead's stage (0-100, in the five layers) and funnel step; calls onSubmit with a StageIn. The deal
 * switch is sent only when changed: on asks the supervisor for the mark, off withdraws it. */
export function StageControl({
  value,
  onSubmit,
  busy,
}: {
  value: StageValue;
  onSubmit: (body: Omit<StageIn, "agent_id">) => void;
  busy?: boolean;
}) {
  const { t } = useI18n();
  const [percent, setPercent] = useState(value.stage_percent);
  const [step, setStep] = useState<FunnelStep | undefined>((value.funnel_step as FunnelStep) ?? undefined);
  const dealBefore = Boolean(value.deal_in_progress) || value.deal_mark?.status === "pending";
  const [deal, setDeal] = useState(dealBefore);
  const [note, setNote] = useState("");
  const marks = Object.fromEntries([0, 20, 40, 60, 80, 100].map((mark) => [mark, `${mark}`]));
  return (
    <Form
      layout="vertical"
      aria-label={t("stage.move")}
      onFinish={() =>
        onSubmit({
          stage_percent: percent,
          funnel_step: step ?? null,
          deal_in_progress: deal === dealBefore ? null : deal,
          note: note.trim() ? note.trim() : null,
        })
      }
    >
      <Form.Item label={t("stage.percent")} help={t("stage.goal", { goal: t(`stage.layer.${stageGoal(percent)}`) })}>
        <Slider
          min={0}
          max={100}
          step={1}
          marks={marks}
          value={percent}
          onChange={setPercent}
          ariaLabelForHandle={t("stage.percent")}
          ariaValueTextFormatterForHandle={(value) =>
            t("stage.label", { percent: value ?? 0, layer: t(`stage.layer.${stageLayer(value ?? 0)}`) })
          }
        />
      </Form.Item>
      <div className="stage-caption" data-testid="stage-layer">
        {t("stage.label", { percent, layer: t(`stage.layer.${stageLayer(percent)}`) })}
      </div>
      <Form.Item label={t("leads.funnel")} htmlFor="stage-funnel-step">
        <Select<FunnelStep>
          id="stage-funnel-step"
          allowClear
          value={step}
          onChange={(next) => setStep(next ?? undefined)}
          options={FUNNEL_STEPS.map((name) => ({ value: name, label: t(`funnel.${name}`) }))}
          aria-label={t("leads.funnel")}
        />
      </Form.Item>
      <Form.Item label={t("leads.deal")}>
        <Switch checked={deal} onChange={setDeal} aria-label={t("leads.deal")} />
      </Form.Item>
      <Form.Item label={t("stage.note")} htmlFor="stage-note">
        <Input.TextArea id="stage-note" rows={2} maxLength={1000} value={note} onChange={(e) => setNote(e.target.value)} />
      </Form.Item>
      <Button type="primary" htmlType="submit" loading={busy}>
        {t("stage.move")}
      </Button>
    </Form>
  );
}
