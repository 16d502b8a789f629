import createClient, { type Client, type Middleware } from "openapi-fetch";
import { ApiError, toProblem } from "./problem";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

let csrfToken: string | undefined;
let onUnauthorized: (() => void) | undefined;

/** The CSRF token of the session, sent on every unsafe request (set once /v1/session answers). */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** What to do when an answer says the session is gone (the app sends the user to the login page). */
export function setUnauthorizedHandler(handler: (() => void) | undefined): void {
  onUnauthorized = handler;
}

function headersFor(method: string, headers: Headers): Headers {
  if (UNSAFE.has(method.toUpperCase()) && csrfToken) headers.set("X-CSRF-Token", csrfToken);
  if (!headers.has("Accept")) headers.set("Accept", "application/json, application/problem+json");
  return headers;
}

const sessionMiddleware: Middleware = {
  onRequest({ request }) {
    headersFor(request.method, request.headers);
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.includes("/v1/session")) onUnauthorized?.();
    return response;
  },
};

/** A typed client of one service behind the BFF's /api/{service} proxy. */
export function serviceClient<Paths extends {}>(service: string): Client<Paths> {
  const client = createClient<Paths>({ baseUrl: `/api/${service}`, credentials: "same-origin" });
  client.use(sessionMiddleware);
  return client;
}

/** A typed client of the BFF's own endpoints (/v1/..., /auth/...). */
export function bffClient<Paths extends {}>(): Client<Paths> {
  const client = createClient<Paths>({ baseUrl: "", credentials: "same-origin" });
  client.use(sessionMiddleware);
  return client;
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Resolves to the data of an openapi-fetch answer, or throws an ApiError with the server's words. */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiError(response.status, toProblem(response.status, error));
  return data as T;
}

/** A plain JSON request to the BFF (for endpoints with no OpenAPI document yet). */
export async function bffFetch<T>(path: string, init: RequestInit = {}): Promise<T> {
  const method = (init.method ?? "GET").toUpperCase();
  const headers = headersFor(method, new Headers(init.headers));
  if (init.body && !headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  const response = await fetch(path, { ...init, method, headers, credentials: "same-origin" });
  if (response.status === 401 && !path.startsWith("/v1/session")) onUnauthorized?.();
  const text = await response.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!response.ok) throw new ApiError(response.status, toProblem(response.status, body));
  return body as T;
}
