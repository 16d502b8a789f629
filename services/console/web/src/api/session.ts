import { useQuery } from "@tanstack/react-query";
import type { components as ConsoleComponents, paths as ConsolePaths } from "./generated/console";
import { bffClient, setCsrfToken, unwrap } from "./http";
import { takeEarlySession } from "../boot/earlySession";
import { ApiError, toProblem } from "./problem";

/** The BFF's own endpoints, typed by its OpenAPI document (openapi/console.json). */
export const bff = bffClient<ConsolePaths>();

type C = ConsoleComponents["schemas"];
export type CallIn = C["CallIn"];
export type CallAccepted = C["CallAccepted"];
export type DevLoginIn = C["DevLoginIn"];

export type Session = C["SessionView"];
export type SessionUser = C["SessionUser"];
export type SignInMethods = C["SignInMethods"];

export const sessionKey = ["session"] as const;

async function earlySession(answer: Promise<Response>): Promise<Session> {
  const response = await answer;
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw new ApiError(response.status, toProblem(response.status, body));
  return body as Session;
}

export async function loadSession(): Promise<Session> {
  const early = takeEarlySession();
  const session = early ? await earlySession(early) : ((await unwrap(bff.GET("/v1/session"))) as unknown as Session);
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

/** GET /auth/methods: which ways of signing in this console offers (the login page shows only these). */
export function useSignInMethods() {
  return useQuery<SignInMethods, ApiError>({
    queryKey: ["sign-in-methods"],
    queryFn: () => unwrap(bff.GET("/auth/methods")),
    staleTime: Infinity,
  });
}

export async function devLogin(agentId: string): Promise<void> {
  const body: DevLoginIn = { agent_id: agentId };
  await unwrap(bff.POST("/auth/dev-login", { body }));
}

export async function logout(): Promise<void> {
  await unwrap(bff.POST("/auth/logout"));
  setCsrfToken(undefined);
}

/** The dialer link for a lead: the session's template with {phone} and {lead_id}, else tel:. */
export function dialerHref(template: string | null | undefined, phone: string, leadId: string): string {
  if (!template) return `tel:${phone.replace(/[^\d+]/g, "")}`;
  return template
    .replaceAll("{phone}", encodeURIComponent(phone))
    .replaceAll("{lead_id}", encodeURIComponent(leadId));
}

/** POST /v1/calls: a call's result, told once per call_id (a retry of the same call is not counted twice). */
export function logCall(body: CallIn): Promise<CallAccepted> {
  return unwrap(bff.POST("/v1/calls", { body }));
}
