import { useQuery } from "@tanstack/react-query";
import { Empty, Spin, Timeline, Typography } from "antd";
import { allocator } from "../api/clients";
import { unwrap } from "../api/http";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n } from "../i18n";
import { historyColor, historyWords } from "./leadHistory";

/** What the allocator knows happened to a lead (GET /v1/leads/{lead_id}/history), oldest first. */
export function LeadHistoryTimeline({ leadId }: { leadId: string }) {
  const { t, lang } = useI18n();
  const history = useQuery({
    queryKey: ["lead-history", leadId],
    queryFn: () => unwrap(allocator.GET("/v1/leads/{lead_id}/history", { params: { path: { lead_id: leadId } } })),
  });
  if (history.isLoading) return <Spin aria-label={t("common.loading")} />;
  if (history.error) return <ProblemAlert error={history.error} onRetry={() => history.refetch()} />;
  const entries = history.data?.entries ?? [];
  if (!entries.length) return <Empty description={t("history.empty")} image={Empty.PRESENTED_IMAGE_SIMPLE} />;
  return (
    <div role="region" aria-label={t("history.label")} data-testid="lead-history">
      <Timeline
        items={entries.map((entry, index) => ({
          key: `${entry.at}-${index}`,
          color: historyColor(entry.kind),
          children: (
            <>
              <div>{historyWords(t, lang, entry)}</div>
              <Typography.Text type="secondary">
                <time dateTime={entry.at}>{new Date(entry.at).toLocaleString(lang)}</time>
              </Typography.Text>
            </>
          ),
        }))}
      />
    </div>
  );
}
