import { Alert } from "antd";
import dayjs from "dayjs";
import type { LeadView } from "../api/clients";
import { useI18n, type Translate } from "../i18n";

/** The reasons the allocator gives when a push on arrival leaves a lead in its pool (distribution.py's and
 * the push's refusals); any other comes as it was recorded. */
export const PUSH_REASONS = [
  "no_eligible_agent",
  "target_at_cap",
  "target_not_in_team",
  "unknown_strategy",
  "no_team",
  "unknown_team",
  "resting",
  "taken_meanwhile",
  "agent_busy",
] as const;
type PushReason = (typeof PUSH_REASONS)[number];

/** Why a push could not place a lead, in words. */
export function pushMissedWords(t: Translate, missed: { code: string; reason: string }): string {
  return (PUSH_REASONS as readonly string[]).includes(missed.code)
    ? t(`push.${missed.code as PushReason}`)
    : missed.reason;
}

/** On a pooled lead's page: the push on arrival could not place it, when and why. */
export function PushMissedNote({ lead }: { lead: Pick<LeadView, "push_missed"> }) {
  const { t } = useI18n();
  const missed = lead.push_missed;
  if (!missed) return null;
  return (
    <Alert
      type="warning"
      showIcon
      data-testid="push-missed"
      message={t("push.missed", { at: dayjs(missed.at).format("YYYY-MM-DD HH:mm"), reason: pushMissedWords(t, missed) })}
    />
  );
}
