import { once, type ModuleLoader } from "./once";

/** The page modules, each imported once: AppRoutes makes its lazy pages of these, and main.tsx starts
 * the one the URL needs at startup, alongside the app's own code instead of after the first render. */
type Loader = ModuleLoader<{ default: React.ComponentType }>;

export const pages = {
  login: once(() => import("../pages/LoginPage")),
  leads: once(() => import("../pages/LeadsPage")),
  lead: once(() => import("../pages/LeadPage")),
  claim: once(() => import("../pages/ClaimPage")),
  tips: once(() => import("../pages/TipsPage")),
  tip: once(() => import("../pages/TipPage")),
  wallet: once(() => import("../pages/WalletPage")),
  day: once(() => import("../pages/DayPage")),
  team: once(() => import("../pages/TeamPage")),
  accessLog: once(() => import("../pages/AccessLogPage")),
};

/** The page module a path shows (the same table as AppRoutes'; anything else lands on /leads). */
export function pageFor(pathname: string): Loader {
  const [section, id] = pathname.split("/").filter(Boolean);
  if (section === "login") return pages.login;
  if (section === "leads" && id) return pages.lead;
  if (section === "tips") return id ? pages.tip : pages.tips;
  if (section === "claim" || section === "wallet" || section === "day" || section === "team") return pages[section];
  if (section === "access-log") return pages.accessLog;
  return pages.leads;
}
