import { Progress, Tooltip } from "antd";
import { useI18n } from "../i18n";
import { stageGoal, stageLayer } from "./stage";

/** Stage as a progress bar 0-100 % with the layer it is in and the layer's goal. */
export function StageProgress({ percent, compact }: { percent: number; compact?: boolean }) {
  const { t } = useI18n();
  const layer = t(`stage.layer.${stageLayer(percent)}`);
  const goal = t("stage.goal", { goal: t(`stage.layer.${stageGoal(percent)}`) });
  const label = t("stage.label", { percent, layer });
  const bar = (
    <Progress
      percent={percent}
      size="small"
      aria-label={`${label}. ${goal}`}
      format={(value) => `${value}%`}
      strokeColor={percent >= 80 ? "#237804" : "#0958d9"}
    />
  );
  if (compact) return <Tooltip title={`${layer} · ${goal}`}>{bar}</Tooltip>;
  return (
    <div>
      {bar}
      <div className="stage-caption">
        {layer} · {goal}
      </div>
    </div>
  );
}
