import { useI18n } from "../i18n";

/** A spinner drawn by styles.css (antd's Spin is not needed before a page loads). */
export function PageFallback() {
  const { t } = useI18n();
  return (
    <div className="page-loading" role="status">
      <span className="spinner" aria-hidden /> <span className="visually-hidden">{t("common.loading")}</span>
    </div>
  );
}
