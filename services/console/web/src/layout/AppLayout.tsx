import { MenuOutlined } from "@ant-design/icons";
import { useQueryClient } from "@tanstack/react-query";
import { Suspense, useState } from "react";
import { Outlet, useLocation, useNavigate } from "react-router-dom";
import { logout, useSession } from "../api/session";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { PageErrorBoundary } from "../components/PageErrorBoundary";
import { PageFallback } from "../components/PageFallback";
import { useI18n } from "../i18n";
import { NotificationBell } from "../notifications/NotificationBell";
import { useNotificationStream } from "../notifications/useNotificationStream";
import { SideNav } from "./SideNav";
import { UserMenu } from "./UserMenu";

/** The shell around every signed-in page, in plain elements styled by styles.css: no antd component is
 * evaluated or styled before the page's own. Under 992 px the side bar hides behind a menu button. */
export function AppLayout() {
  const { t } = useI18n();
  const session = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const queryClient = useQueryClient();
  const [navOpen, setNavOpen] = useState(false);
  useNotificationStream(session.isSuccess);
  const signOut = async () => {
    try {
      await logout();
    } finally {
      queryClient.clear();
      navigate("/login", { replace: true });
    }
  };
  const user = session.data?.user;
  const name = user?.name ?? user?.sub ?? "";
  return (
    <div className="app-shell">
      <a className="skip-link" href="#main">
        {t("app.skip")}
      </a>
      <aside className={navOpen ? "app-sider app-sider-open" : "app-sider"}>
        <div className="brand">{t("app.title")}</div>
        <SideNav onNavigate={() => setNavOpen(false)} />
      </aside>
      <div className="app-body">
        <header className="app-header">
          <button
            type="button"
            className="header-button nav-toggle"
            aria-label={t("nav.menu")}
            aria-expanded={navOpen}
            onClick={() => setNavOpen(!navOpen)}
          >
            <MenuOutlined aria-hidden className="header-icon" />
          </button>
          <div className="header-tools">
            <LanguageSwitch />
            <NotificationBell />
            <UserMenu name={name} onSignOut={() => void signOut()} />
          </div>
        </header>
        <main id="main" className="app-content" tabIndex={-1}>
          <PageErrorBoundary page={location.pathname}>
            <Suspense fallback={<PageFallback />}>
              <Outlet />
            </Suspense>
          </PageErrorBoundary>
        </main>
      </div>
    </div>
  );
}
