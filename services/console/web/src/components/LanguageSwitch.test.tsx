import { fireEvent, render, screen } from "@testing-library/react";
import { App, ConfigProvider, DatePicker } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import { beforeEach, describe, expect, it } from "vitest";
import { I18nProvider, useI18n } from "../i18n";
import { LanguageSwitch } from "./LanguageSwitch";

function Page() {
  const { t, lang } = useI18n();
  return (
    <ConfigProvider locale={lang === "zh-CN" ? zhCN : enUS}>
      <App>
        <LanguageSwitch />
        <h1>{t("nav.leads")}</h1>
        <DatePicker />
      </App>
    </ConfigProvider>
  );
}

describe("language switch", () => {
  beforeEach(() => window.localStorage.clear());

  it("starts in Chinese, switches to English (antd too) and remembers it", () => {
    const first = render(
      <I18nProvider>
        <Page />
      </I18nProvider>,
    );
    expect(screen.getByRole("heading")).toHaveTextContent("我的线索");
    expect(screen.getByPlaceholderText("请选择日期")).toBeInTheDocument();
    fireEvent.click(screen.getByText("English"));
    expect(screen.getByRole("heading")).toHaveTextContent("My leads");
    expect(screen.getByPlaceholderText("Select date")).toBeInTheDocument();
    expect(window.localStorage.getItem("console.lang")).toBe("en");
    expect(document.documentElement.lang).toBe("en");
    first.unmount();
    render(
      <I18nProvider>
        <Page />
      </I18nProvider>,
    );
    expect(screen.getByRole("heading")).toHaveTextContent("My leads");
  });
});
