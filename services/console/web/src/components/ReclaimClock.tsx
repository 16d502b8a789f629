import { ClockCircleOutlined } from "@ant-design/icons";
import { Typography } from "antd";
import type { ReclaimInfo } from "../api/clients";
import { useI18n, type Translate } from "../i18n";
import { durationWords } from "./duration";

/** The reclaim clock in words: how long until the lead goes back to the pool, and what stops it. */
export function reclaimWords(t: Translate, reclaim: ReclaimInfo, now: Date): string {
  const left = new Date(reclaim.at).getTime() - now.getTime();
  if (!Number.isFinite(left)) return "";
  if (left <= 0) return t("reclaim.due");
  const time = durationWords(t, left);
  if (reclaim.kind === "not_called" || reclaim.kind === "not_processed") return t("reclaim.notCalled", { time });
  if (reclaim.kind === "no_progress" || reclaim.kind === "not_converted") return t("reclaim.noProgress", { time });
  return t("reclaim.other", { time });
}

export function ReclaimClock({ reclaim, now }: { reclaim?: ReclaimInfo | null; now?: Date }) {
  const { t } = useI18n();
  if (!reclaim?.at) return <Typography.Text type="secondary">—</Typography.Text>;
  const words = reclaimWords(t, reclaim, now ?? new Date());
  const urgent = new Date(reclaim.at).getTime() - (now ?? new Date()).getTime() < 24 * 3600_000;
  return (
    <Typography.Text type={urgent ? "danger" : undefined} data-testid="reclaim-clock">
      <ClockCircleOutlined aria-hidden /> {words}
    </Typography.Text>
  );
}
