import { StarFilled } from "@ant-design/icons";
import { useInfiniteQuery } from "@tanstack/react-query";
import { Button, Card, Empty, Input, List, Select, Space, Tag, Typography } from "antd";
import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { CALL_STAGES, type CallStage, type TipView } from "../api/clients";
import { tipFilters, tipsQuery, type TipSort } from "../api/queries";
import { ProblemAlert } from "../components/ProblemAlert";
import { usePageTitle, useI18n } from "../i18n";

type Sort = TipSort;

export function TipSummary({ tip }: { tip: TipView }) {
  const { t } = useI18n();
  return (
    <Space size={[8, 4]} wrap>
      {tip.stage ? <Tag color="blue">{t(`stage.call.${tip.stage}`)}</Tag> : null}
      {tip.product_line ? <Tag>{tip.product_line}</Tag> : null}
      <span>{tip.price ? t("tips.price", { price: tip.price }) : t("tips.free")}</span>
      {tip.rating != null ? (
        <span>
          <StarFilled aria-hidden className="star" /> {t("tips.rating", { rating: tip.rating.toFixed(1), count: tip.ratings })}
        </span>
      ) : null}
      <span>{t("tips.sales", { sales: tip.sales })}</span>
      {tip.access ? <Tag color="green">{t("tips.owned")}</Tag> : null}
    </Space>
  );
}

export default function TipsPage() {
  const { t } = useI18n();
  usePageTitle(t("tips.title"));
  const [params, setParams] = useSearchParams();
  const filters = tipFilters(params);
  const { q, stage, productLine, sort } = filters;
  const [draft, setDraft] = useState(q);
  const update = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    setParams(next, { replace: true });
  };
  const tips = useInfiniteQuery(tipsQuery(filters));
  const items = tips.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("tips.title")}
      </Typography.Title>
      <Space wrap role="search" aria-label={t("tips.search")}>
        <Input.Search
          allowClear
          aria-label={t("tips.search")}
          placeholder={t("tips.search")}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onSearch={(value) => update({ q: value.trim() || undefined })}
          style={{ width: 280 }}
        />
        <Select<CallStage>
          allowClear
          aria-label={t("tips.stage")}
          placeholder={t("tips.stage")}
          value={stage}
          onChange={(value) => update({ stage: value })}
          options={CALL_STAGES.map((value) => ({ value, label: t(`stage.call.${value}`) }))}
          style={{ width: 160 }}
        />
        <Input
          allowClear
          aria-label={t("tips.productLine")}
          placeholder={t("tips.productLine")}
          defaultValue={productLine}
          onPressEnter={(e) => update({ product_line: e.currentTarget.value.trim() || undefined })}
          onBlur={(e) => update({ product_line: e.currentTarget.value.trim() || undefined })}
          style={{ width: 160 }}
        />
        <Select<Sort>
          allowClear
          aria-label={t("tips.sort")}
          placeholder={t("tips.sort")}
          value={sort}
          onChange={(value) => update({ sort: value })}
          options={(["relevance", "rating", "sales", "recency"] as Sort[]).map((value) => ({
            value,
            label: t(`tips.sort.${value}`),
          }))}
          style={{ width: 120 }}
        />
      </Space>
      {tips.error ? <ProblemAlert error={tips.error} onRetry={() => tips.refetch()} /> : null}
      <List<TipView>
        grid={{ gutter: 16, xs: 1, md: 2, xl: 3 }}
        loading={tips.isLoading}
        dataSource={items}
        locale={{ emptyText: <Empty description={t("tips.empty")} /> }}
        renderItem={(tip) => (
          <List.Item>
            <Card
              size="small"
              title={<Link to={`/tips/${encodeURIComponent(tip.tip_id)}`}>{tip.title || t("tips.untitled")}</Link>}
            >
              <Typography.Paragraph ellipsis={{ rows: 2 }}>{tip.summary}</Typography.Paragraph>
              <TipSummary tip={tip} />
            </Card>
          </List.Item>
        )}
      />
      {tips.hasNextPage ? (
        <Button onClick={() => tips.fetchNextPage()} loading={tips.isFetchingNextPage}>
          {t("tips.more")}
        </Button>
      ) : null}
    </Space>
  );
}
