import { StyleProvider, createCache } from "@ant-design/cssinjs";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { App as AntApp, ConfigProvider } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import dayjs from "dayjs";
import "dayjs/locale/zh-cn";
import { useMemo, useState } from "react";
import { BrowserRouter } from "react-router-dom";
import { ApiError } from "./api/problem";
import { AppRoutes } from "./AppRoutes";
import { I18nProvider, useI18n } from "./i18n";
import { themeTokens } from "./theme";

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        refetchOnWindowFocus: true,
        // A refusal will not change on retry; a dropped connection may.
        retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      },
    },
  });
}

function Themed({ nonce, children }: { nonce?: string; children: React.ReactNode }) {
  const { lang } = useI18n();
  dayjs.locale(lang === "zh-CN" ? "zh-cn" : "en");
  const cache = useMemo(() => createCache(), []);
  return (
    <StyleProvider cache={cache}>
      <ConfigProvider
        csp={nonce ? { nonce } : undefined}
        // No space put between two Chinese characters ("登 录"): a button's name is its exact words.
        button={{ autoInsertSpace: false }}
        locale={lang === "zh-CN" ? zhCN : enUS}
        theme={{ token: themeTokens }}
      >
        <AntApp>{children}</AntApp>
      </ConfigProvider>
    </StyleProvider>
  );
}

export function Root({ nonce, client }: { nonce?: string; client?: QueryClient }) {
  const [queryClient] = useState(() => client ?? makeQueryClient());
  return (
    <QueryClientProvider client={queryClient}>
      <I18nProvider>
        <Themed nonce={nonce}>
          <BrowserRouter>
            <AppRoutes />
          </BrowserRouter>
        </Themed>
      </I18nProvider>
    </QueryClientProvider>
  );
}
