import { infiniteQueryOptions, queryOptions, useQuery } from "@tanstack/react-query";
import { allocator, ledger, marketplace, metrics, type AgentIndicators, type CallStage, type LeadRow } from "./clients";
import { unwrap } from "./http";
import { useSession } from "./session";

/** The signed-in user's id (the roster's agent id). */
export function useMe(): string {
  const session = useSession();
  return session.data?.user.sub ?? "";
}

// Each query's key and loader in one place: the hooks use them, and so does the startup prefetch
// (src/boot/prefetch.ts), which asks for the first page's data as soon as the session is known.

export const agentQuery = (me: string) =>
  queryOptions({
    queryKey: ["agent", me],
    enabled: Boolean(me),
    queryFn: () => unwrap(allocator.GET("/v1/agents/{agent_id}", { params: { path: { agent_id: me } } })),
  });

/** One lead (allocator GET /v1/leads/{id}): its page, and the name a notification about it uses. */
export const leadQuery = (leadId: string) =>
  queryOptions({
    queryKey: ["lead", leadId],
    queryFn: async () =>
      (await unwrap(allocator.GET("/v1/leads/{lead_id}", { params: { path: { lead_id: leadId } } }))) as LeadRow,
  });

/** One tip (marketplace GET /v1/tips/{id}): its page, and the title a notification about it uses. */
export const tipQuery = (tipId: string) =>
  queryOptions({
    queryKey: ["tip", tipId],
    queryFn: () => unwrap(marketplace.GET("/v1/tips/{tip_id}", { params: { path: { tip_id: tipId } } })),
  });

export const leadsQuery = (me: string) =>
  queryOptions({
    queryKey: ["leads", me],
    enabled: Boolean(me),
    refetchInterval: 60_000,
    queryFn: async () =>
      (await unwrap(
        allocator.GET("/v1/agents/{agent_id}/leads", { params: { path: { agent_id: me }, query: { limit: 500 } } }),
      )).items as LeadRow[],
  });

export const tiersQuery = (me: string) =>
  queryOptions({
    queryKey: ["tiers", me],
    enabled: Boolean(me),
    queryFn: () => unwrap(allocator.GET("/v1/tiers", { params: { query: { agent_id: me } } })),
  });

export const indicatorsQuery = (me: string, day: string) =>
  queryOptions({
    queryKey: ["indicators", me, day],
    enabled: Boolean(me),
    refetchInterval: 60_000,
    // The JSON body (the route also answers text/csv, hence the union openapi-fetch infers).
    queryFn: async (): Promise<AgentIndicators> =>
      (await unwrap(
        metrics.GET("/v1/agents/{agent_id}/indicators", {
          params: { path: { agent_id: me }, query: { from: day, to: day, format: "json" } },
        }),
      )) as AgentIndicators,
  });

/** The agent's latest applications for leads (轮询申领) and the pools it may apply to. Polled while one
 * waits: a serve or a refusal happens when a lead arrives, which no notification tells of a refusal. */
export const applicationsQuery = (me: string) =>
  queryOptions({
    queryKey: ["applications", me],
    enabled: Boolean(me),
    refetchInterval: (query) => (query.state.data?.items.some((a) => a.status === "pending") ? 5_000 : false),
    queryFn: () =>
      unwrap(
        allocator.GET("/v1/agents/{agent_id}/applications", { params: { path: { agent_id: me }, query: { limit: 6 } } }),
      ),
  });

export type TipSort = "relevance" | "rating" | "sales" | "recency";

/** The tips page's filters, as its URL holds them. */
export function tipFilters(params: URLSearchParams) {
  return {
    q: params.get("q") ?? "",
    stage: (params.get("stage") as CallStage | null) ?? undefined,
    productLine: params.get("product_line") ?? undefined,
    sort: (params.get("sort") as TipSort | null) ?? undefined,
  };
}

export const tipsQuery = ({ q, stage, productLine, sort }: ReturnType<typeof tipFilters>) =>
  infiniteQueryOptions({
    queryKey: ["tips", { q, stage, productLine, sort }],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(
        marketplace.GET("/v1/tips", {
          params: {
            query: {
              q: q || undefined,
              stage,
              product_line: productLine || undefined,
              sort,
              limit: 20,
              cursor: pageParam,
            },
          },
        }),
      ),
    getNextPageParam: (page) => page.next_cursor ?? undefined,
  });

export function useAgent() {
  return useQuery(agentQuery(useMe()));
}

export function useMyLeads() {
  return useQuery(leadsQuery(useMe()));
}

export function useTiers() {
  return useQuery(tiersQuery(useMe()));
}

export function useLedgerUser() {
  const me = useMe();
  return useQuery({
    queryKey: ["wallet", "user", me],
    enabled: Boolean(me),
    queryFn: () => unwrap(ledger.GET("/v1/users/{user_id}", { params: { path: { user_id: me } } })),
  });
}
