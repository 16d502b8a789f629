import {
  AimOutlined,
  BarChartOutlined,
  BulbOutlined,
  LogoutOutlined,
  ProfileOutlined,
  UserOutlined,
  WalletOutlined,
} from "@ant-design/icons";
import { useQueryClient } from "@tanstack/react-query";
import { Button, Dropdown, Layout, Menu, Space } from "antd";
import { Suspense } from "react";
import { Outlet, useLocation, useNavigate } from "react-router-dom";
import { logout, useSession } from "../api/session";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { useI18n } from "../i18n";
import { NotificationBell } from "../notifications/NotificationBell";
import { useNotificationStream } from "../notifications/useNotificationStream";
import { PageFallback } from "../components/PageFallback";

export function AppLayout() {
  const { t } = useI18n();
  const session = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const queryClient = useQueryClient();
  useNotificationStream(session.isSuccess);
  const section = "/" + (location.pathname.split("/")[1] ?? "leads");
  const items = [
    { key: "/leads", icon: <ProfileOutlined />, label: t("nav.leads") },
    { key: "/claim", icon: <AimOutlined />, label: t("nav.claim") },
    { key: "/tips", icon: <BulbOutlined />, label: t("nav.tips") },
    { key: "/wallet", icon: <WalletOutlined />, label: t("nav.wallet") },
    { key: "/day", icon: <BarChartOutlined />, label: t("nav.day") },
  ];
  const signOut = async () => {
    try {
      await logout();
    } finally {
      queryClient.clear();
      navigate("/login", { replace: true });
    }
  };
  const user = session.data?.user;
  return (
    <Layout className="app-shell">
      <a className="skip-link" href="#main">
        {t("app.skip")}
      </a>
      <Layout.Sider breakpoint="lg" collapsedWidth={0} theme="dark" width={208}>
        <div className="brand">{t("app.title")}</div>
        <nav aria-label={t("nav.menu")}>
          <Menu
            theme="dark"
            mode="inline"
            selectedKeys={[section]}
            items={items}
            onClick={({ key }) => navigate(key)}
          />
        </nav>
      </Layout.Sider>
      <Layout>
        <Layout.Header className="app-header">
          <Space size="middle">
            <LanguageSwitch />
            <NotificationBell />
            <Dropdown
              trigger={["click"]}
              menu={{
                items: [{ key: "logout", icon: <LogoutOutlined />, label: t("header.logout") }],
                onClick: ({ key }) => key === "logout" && void signOut(),
              }}
            >
              <Button type="text" aria-label={`${t("header.user")}: ${user?.name ?? user?.sub ?? ""}`} className="header-button">
                <UserOutlined aria-hidden /> {user?.name ?? user?.sub}
              </Button>
            </Dropdown>
          </Space>
        </Layout.Header>
        <Layout.Content id="main" className="app-content" tabIndex={-1}>
          {/* Layout.Content is the page's one <main> landmark. */}
          <Suspense fallback={<PageFallback />}>
            <Outlet />
          </Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}
