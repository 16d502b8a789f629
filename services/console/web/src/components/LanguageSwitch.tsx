import { Segmented } from "antd";
import { useI18n, type Lang } from "../i18n";

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <Segmented<Lang>
      size="small"
      aria-label={t("header.language")}
      value={lang}
      onChange={setLang}
      options={[
        { value: "zh-CN", label: <span lang="zh-CN">中文</span> },
        { value: "en", label: <span lang="en">English</span> },
      ]}
    />
  );
}
