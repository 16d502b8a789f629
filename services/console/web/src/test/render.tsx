import { render } from "@testing-library/react";
import { App, ConfigProvider } from "antd";
import type { ReactElement } from "react";
import { I18nProvider, type Lang } from "../i18n";

export function renderIn(lang: Lang, ui: ReactElement) {
  return render(
    <I18nProvider initial={lang}>
      <ConfigProvider button={{ autoInsertSpace: false }}>
        <App>{ui}</App>
      </ConfigProvider>
    </I18nProvider>,
  );
}
