import { useI18n, type Lang } from "../i18n";

const CHOICES: { value: Lang; label: string }[] = [
  { value: "zh-CN", label: "中文" },
  { value: "en", label: "English" },
];

/** Two radio buttons drawn as a segmented control (plain inputs: arrow keys move between them). */
export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <div role="radiogroup" aria-label={t("header.language")} className="lang-switch">
      {CHOICES.map((choice) => (
        <label key={choice.value} className="lang-switch-item" lang={choice.value}>
          <input
            type="radio"
            name="console-lang"
            className="visually-hidden"
            value={choice.value}
            checked={lang === choice.value}
            onChange={() => setLang(choice.value)}
          />
          <span>{choice.label}</span>
        </label>
      ))}
    </div>
  );
}
