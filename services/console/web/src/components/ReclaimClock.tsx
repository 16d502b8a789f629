import { ClockCircleOutlined } from "@ant-design/icons";
import { Typography } from "antd";
import type { ReclaimClockView } from "../api/clients";
import { useI18n, type Translate } from "../i18n";
import { durationWords } from "./duration";

export type ReclaimFacts = Pick<ReclaimClockView, "at" | "unless">;

/** The reclaim clock in words: how long until the lead goes back to the pool, and what the holder can do
 * about it (the allocator's `unless`: a call, or moving the stage forward). */
export function reclaimWords(t: Translate, reclaim: ReclaimFacts, now: Date): string {
  const left = new Date(reclaim.at).getTime() - now.getTime();
  if (!Number.isFinite(left)) return "";
  if (left <= 0) return t("reclaim.due");
  const time = durationWords(t, left);
  if (reclaim.unless === "call") return t("reclaim.unlessCall", { time });
  if (reclaim.unless === "advance_stage") return t("reclaim.unlessStage", { time });
  return t("reclaim.other", { time });
}

export function ReclaimClock({ reclaim, now }: { reclaim?: ReclaimFacts | null; now?: Date }) {
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
