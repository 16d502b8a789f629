import { useQuery } from "@tanstack/react-query";
import { bffFetch, setCsrfToken } from "./http";
import { ApiError } from "./problem";

/** GET /v1/session (the BFF's contract; no OpenAPI document of the BFF is relied on yet). */
export interface SessionUser {
  sub: string;
  name?: string | null;
  roles: string[];
  tenant?: string | null;
  team?: string | null;
}
export interface Session {
  user: SessionUser;
  csrf_token: string;
  expires_at?: string;
  dialer_url?: string | null;
}

export const sessionKey = ["session"] as const;

export async function loadSession(): Promise<Session> {
  const session = await bffFetch<Session>("/v1/session");
  setCsrfToken(session.csrf_token);
  return session;
}

export function useSession() {
  return useQuery<Session, ApiError>({
    queryKey: sessionKey,
    queryFn: loadSession,
    retry: false,
    staleTime: 5 * 60_000,
  });
}

export async function devLogin(agentId: string): Promise<void> {
  await bffFetch("/auth/dev-login", { method: "POST", body: JSON.stringify({ agent_id: agentId }) });
}

export async function logout(): Promise<void> {
  await bffFetch("/auth/logout", { method: "POST" });
  setCsrfToken(undefined);
}

/** The dialer link for a lead: the session's template with {phone} and {lead_id}, else tel:. */
export function dialerHref(template: string | null | undefined, phone: string, leadId: string): string {
  if (!template) return `tel:${phone.replace(/[^\d+]/g, "")}`;
  return template
    .replaceAll("{phone}", encodeURIComponent(phone))
    .replaceAll("{lead_id}", encodeURIComponent(leadId));
}
