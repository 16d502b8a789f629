import { Table, Typography } from "antd";
import type { LeadView, ScorePart } from "../api/clients";
import { useI18n } from "../i18n";

/** How lead-intake made the lead's score: each feature's points, and the learned model's share if any. */
export function ScoreBreakdown({ lead }: { lead: Pick<LeadView, "score" | "score_parts" | "score_model"> }) {
  const { t, lang } = useI18n();
  const parts = lead.score_parts ?? [];
  const model = lead.score_model;
  const points = (value: number) => value.toLocaleString(lang, { maximumFractionDigits: 1 });
  return (
    <div data-testid="score-breakdown">
      {parts.length ? (
        <Table<ScorePart>
          size="small"
          rowKey="feature"
          pagination={false}
          dataSource={parts}
          aria-label={t("score.title")}
          columns={[
            { title: t("score.feature"), dataIndex: "feature", key: "feature" },
            { title: t("score.value"), dataIndex: "value", key: "value" },
            { title: t("score.points"), dataIndex: "points", key: "points", align: "right", render: points },
          ]}
          summary={() => (
            <Table.Summary.Row>
              <Table.Summary.Cell index={0} colSpan={3} align="right">
                {t("score.total", { score: points(lead.score) })}
              </Table.Summary.Cell>
            </Table.Summary.Row>
          )}
        />
      ) : (
        <Typography.Paragraph type="secondary">{t("score.none")}</Typography.Paragraph>
      )}
      {model ? (
        <Typography.Paragraph type="secondary" style={{ marginTop: 8 }}>
          {t("score.model", {
            probability: `${Math.round(model.probability_won * 1000) / 10}%`,
            weight: model.blend_weight.toLocaleString(lang, { maximumFractionDigits: 2 }),
            outcomes: model.outcomes_used,
          })}
        </Typography.Paragraph>
      ) : null}
    </div>
  );
}
