import { Spin } from "antd";
import { useI18n } from "../i18n";

export function PageFallback() {
  const { t } = useI18n();
  return (
    <div className="page-loading" role="status">
      <Spin /> <span className="visually-hidden">{t("common.loading")}</span>
    </div>
  );
}
