import { Suspense, useEffect } from "react";
import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { setUnauthorizedHandler } from "./api/http";
import { useSession } from "./api/session";
import { useQueryClient } from "@tanstack/react-query";
import { AppLayout } from "./layout/AppLayout";
import { PageFallback } from "./components/PageFallback";
import { lazyPage } from "./boot/lazyModules";
import { pages } from "./boot/routeModules";

const LoginPage = lazyPage(pages.login);
const LeadsPage = lazyPage(pages.leads);
const LeadPage = lazyPage(pages.lead);
const ClaimPage = lazyPage(pages.claim);
const TipsPage = lazyPage(pages.tips);
const TipPage = lazyPage(pages.tip);
const WalletPage = lazyPage(pages.wallet);
const DayPage = lazyPage(pages.day);
const TeamPage = lazyPage(pages.team);
const AccessLogPage = lazyPage(pages.accessLog);


/** Sends the user to the login page when the session is gone (any 401 of the BFF or a service). */
function useUnauthorizedRedirect() {
  const navigate = useNavigate();
  const location = useLocation();
  const queryClient = useQueryClient();
  useEffect(() => {
    setUnauthorizedHandler(() => {
      if (location.pathname === "/login") return;
      queryClient.removeQueries({ queryKey: ["session"] });
      navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
    });
    return () => setUnauthorizedHandler(undefined);
  }, [navigate, location, queryClient]);
}

function RequireSession({ children }: { children: React.ReactNode }) {
  const session = useSession();
  const location = useLocation();
  if (session.isPending) return <PageFallback />;
  if (session.isError) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/login?next=${next}`} replace />;
  }
  return <>{children}</>;
}

export function AppRoutes() {
  useUnauthorizedRedirect();
  return (
    <Suspense fallback={<PageFallback />}>
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route
          element={
            <RequireSession>
              <AppLayout />
            </RequireSession>
          }
        >
          <Route index element={<Navigate to="/leads" replace />} />
          <Route path="/leads" element={<LeadsPage />} />
          <Route path="/leads/:leadId" element={<LeadPage />} />
          <Route path="/claim" element={<ClaimPage />} />
          <Route path="/tips" element={<TipsPage />} />
          <Route path="/tips/:tipId" element={<TipPage />} />
          <Route path="/wallet" element={<WalletPage />} />
          <Route path="/day" element={<DayPage />} />
          <Route path="/team" element={<TeamPage />} />
          <Route path="/access-log" element={<AccessLogPage />} />
          <Route path="*" element={<Navigate to="/leads" replace />} />
        </Route>
      </Routes>
    </Suspense>
  );
}
