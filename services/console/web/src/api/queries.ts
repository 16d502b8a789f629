import { useQuery } from "@tanstack/react-query";
import { allocator, ledger, type LeadRow } from "./clients";
import { unwrap } from "./http";
import { useSession } from "./session";

/** The signed-in user's id (the roster's agent id). */
export function useMe(): string {
  const session = useSession();
  return session.data?.user.sub ?? "";
}

export function useAgent() {
  const me = useMe();
  return useQuery({
    queryKey: ["agent", me],
    enabled: Boolean(me),
    queryFn: () => unwrap(allocator.GET("/v1/agents/{agent_id}", { params: { path: { agent_id: me } } })),
  });
}

export function useMyLeads() {
  const me = useMe();
  return useQuery({
    queryKey: ["leads", me],
    enabled: Boolean(me),
    refetchInterval: 60_000,
    queryFn: async () =>
      (await unwrap(
        allocator.GET("/v1/agents/{agent_id}/leads", { params: { path: { agent_id: me }, query: { limit: 500 } } }),
      )).items as LeadRow[],
  });
}

export function useTiers() {
  const me = useMe();
  return useQuery({
    queryKey: ["tiers", me],
    enabled: Boolean(me),
    queryFn: () => unwrap(allocator.GET("/v1/tiers", { params: { query: { agent_id: me } } })),
  });
}

export function useLedgerUser() {
  const me = useMe();
  return useQuery({
    queryKey: ["wallet", "user", me],
    enabled: Boolean(me),
    queryFn: () => unwrap(ledger.GET("/v1/users/{user_id}", { params: { path: { user_id: me } } })),
  });
}
