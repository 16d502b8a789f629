import { LockOutlined, UnlockOutlined } from "@ant-design/icons";
import { Space, Typography } from "antd";
import type { TierView } from "../api/clients";
import { useI18n, type Translate } from "../i18n";
import { minutesWords } from "./duration";

export interface AgentFacts {
  grade?: string | null;
  worked_minutes_today?: number;
}

/** Why a tier is locked for this agent, in the user's language (the allocator's why_not is the fallback). */
export function tierLockReasons(t: Translate, tier: TierView, agent: AgentFacts | undefined): string[] {
  if (tier.may_open) return [];
  const reasons: string[] = [];
  const grades = tier.grades.join("/");
  if (agent && tier.grades.length && !(agent.grade && tier.grades.includes(agent.grade))) {
    reasons.push(agent.grade ? t("tier.needGrade", { grades, grade: agent.grade }) : t("tier.noGrade", { grades }));
  }
  const worked = Math.floor(agent?.worked_minutes_today ?? 0);
  if (agent && tier.min_worked_minutes > worked) {
    reasons.push(
      t("tier.needTime", {
        need: minutesWords(t, tier.min_worked_minutes),
        worked: minutesWords(t, worked),
        left: minutesWords(t, tier.min_worked_minutes - worked),
      }),
    );
  }
  if (!reasons.length && tier.may_open === false) reasons.push(tier.why_not || t("tier.unknown"));
  return reasons;
}

export function TierLock({ tier, agent }: { tier: TierView; agent?: AgentFacts }) {
  const { t } = useI18n();
  if (tier.may_open) {
    return (
      <Typography.Text type="success">
        <UnlockOutlined aria-hidden /> {t("claim.open")}
      </Typography.Text>
    );
  }
  const reasons = tierLockReasons(t, tier, agent);
  return (
    <Space direction="vertical" size={0}>
      <Typography.Text strong>
        <LockOutlined aria-hidden /> {t("claim.locked")}
      </Typography.Text>
      {reasons.map((reason) => (
        <Typography.Text key={reason} type="secondary">
          {reason}
        </Typography.Text>
      ))}
    </Space>
  );
}
