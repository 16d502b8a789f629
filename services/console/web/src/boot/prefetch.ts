import type { QueryClient } from "@tanstack/react-query";
import { agentQuery, indicatorsQuery, leadsQuery, tipFilters, tiersQuery, tipsQuery } from "../api/queries";
import { loadSession, sessionKey } from "../api/session";
import { shanghaiToday } from "../pages/dayRange";

/** Asks for the session and, once it is known, for the data of the page the URL shows: the requests go
 * out while React renders the shell, not after the page has mounted. The pages read the same queries. */
export function prefetchFirstPage(queryClient: QueryClient, location: Location): void {
  const [section, id] = location.pathname.split("/").filter(Boolean);
  if (section === "login") return;
  queryClient
    .fetchQuery({ queryKey: sessionKey, queryFn: loadSession, staleTime: 5 * 60_000, retry: false })
    .then((session) => {
      const me = session.user.sub;
      if ((section ?? "leads") === "leads" && !id) void queryClient.prefetchQuery(leadsQuery(me));
      if (section === "claim" || section === "day") {
        void queryClient.prefetchQuery(agentQuery(me));
        void queryClient.prefetchQuery(tiersQuery(me));
      }
      if (section === "day") void queryClient.prefetchQuery(indicatorsQuery(me, shanghaiToday()));
      if (section === "tips" && !id) {
        void queryClient.prefetchInfiniteQuery(tipsQuery(tipFilters(new URLSearchParams(location.search))));
      }
    })
    .catch(() => undefined); // no session: RequireSession sends the user to the login page
}
