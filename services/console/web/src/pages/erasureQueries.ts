import { useQuery } from "@tanstack/react-query";
import { leadIntake, type ErasureView } from "../api/clients";
import { unwrap } from "../api/http";

/** How often a request still pending is read again (the services answer within seconds). */
export const ERASURE_POLL_MS = 2000;
export const LIST_LIMIT = 10;
export const erasuresKey = ["erasures"] as const;
export const erasureKey = (requestId: string) => [...erasuresKey, "one", requestId] as const;
export const erasureListKey = [...erasuresKey, "list"] as const;

export type ErasureStatus = "pending" | "complete" | "nothing_found";
export const isPending = (view: ErasureView | undefined) => view?.status === "pending";

/** The services that answered a request, in name order. */
export function answered(view: ErasureView): string[] {
  return Object.keys(view.services ?? {}).sort();
}

/** One erasure request (GET /v1/erasures/{id}), read again while it is pending. */
export function useErasure(requestId: string | undefined) {
  return useQuery({
    queryKey: erasureKey(requestId ?? ""),
    enabled: Boolean(requestId),
    queryFn: () =>
      unwrap(leadIntake.GET("/v1/erasures/{request_id}", { params: { path: { request_id: requestId ?? "" } } })),
    staleTime: ERASURE_POLL_MS,
    refetchInterval: (query) => (isPending(query.state.data) ? ERASURE_POLL_MS : false),
  });
}

/** The tenant's latest erasure requests, newest first (GET /v1/erasures), read again while one is pending. */
export function useErasures() {
  return useQuery({
    queryKey: erasureListKey,
    queryFn: () => unwrap(leadIntake.GET("/v1/erasures", { params: { query: { limit: LIST_LIMIT } } })),
    refetchInterval: (query) => (query.state.data?.items.some(isPending) ? ERASURE_POLL_MS : false),
  });
}
