import { Alert, Card, Select, Space, Typography } from "antd";
import { useState } from "react";
import { useMyTeams } from "../api/teamQueries";
import { usePageTitle, useI18n } from "../i18n";
import { TeamUnplaced } from "./TeamUnplaced";
import { TeamWeights } from "./TeamWeights";

/** A supervisor's team view: the weights 能力+平均 gives the team's agents, and the leads pushed to the team
 * on arrival that found nobody. A supervisor covering several teams (a line manager) picks one. */
export default function TeamPage() {
  const { t } = useI18n();
  usePageTitle(t("team.title"));
  const { teams, isLoading } = useMyTeams();
  const [picked, setPicked] = useState<string>();
  const teamId = picked && teams.includes(picked) ? picked : teams[0];
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("team.title")}
        {teamId ? ` · ${teamId}` : ""}
      </Typography.Title>
      {teams.length > 1 ? (
        <Select
          aria-label={t("team.pick")}
          value={teamId}
          onChange={setPicked}
          options={teams.map((team) => ({ value: team, label: team }))}
          style={{ width: 240 }}
        />
      ) : null}
      {!isLoading && !teamId ? <Alert type="info" showIcon message={t("team.none")} /> : null}
      {teamId ? (
        <>
          <Card title={<h2 className="card-heading">{t("team.weights")}</h2>}>
            <TeamWeights teamId={teamId} />
          </Card>
          <Card title={<h2 className="card-heading">{t("team.unplaced")}</h2>}>
            <TeamUnplaced teamId={teamId} />
          </Card>
        </>
      ) : null}
    </Space>
  );
}
