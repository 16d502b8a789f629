import { lazy, Suspense, useEffect } from "react";
import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { setUnauthorizedHandler } from "./api/http";
import { useSession } from "./api/session";
import { useQueryClient } from "@tanstack/react-query";
import { AppLayout } from "./layout/AppLayout";
import { PageFallback } from "./components/PageFallback";

const LoginPage = lazy(() => import("./pages/LoginPage"));
const LeadsPage = lazy(() => import("./pages/LeadsPage"));
const LeadPage = lazy(() => import("./pages/LeadPage"));
const ClaimPage = lazy(() => import("./pages/ClaimPage"));
const TipsPage = lazy(() => import("./pages/TipsPage"));
const TipPage = lazy(() => import("./pages/TipPage"));
const WalletPage = lazy(() => import("./pages/WalletPage"));
const DayPage = lazy(() => import("./pages/DayPage"));


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
          <Route path="*" element={<Navigate to="/leads" replace />} />
        </Route>
      </Routes>
    </Suspense>
  );
}
