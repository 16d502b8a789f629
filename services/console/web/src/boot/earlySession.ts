/** The first GET /v1/session, started before the app's code is loaded: index.html preloads it
 * (`<link rel="preload" as="fetch" crossorigin="use-credentials">`) and this fetch, with the same mode and
 * credentials and no extra headers, takes that answer. The app's first session load uses it; later ones
 * (after signing in) ask again. */
let early: Promise<Response> | undefined;

export function startSessionFetch(): void {
  if (early || typeof fetch === "undefined") return;
  early = fetch("/v1/session", { credentials: "include" });
  // Not awaited by anybody on /login: no unhandled rejection when the network is down.
  early.catch(() => undefined);
}

/** The early answer, once (undefined if none was started or it was already taken). */
export function takeEarlySession(): Promise<Response> | undefined {
  const answer = early;
  early = undefined;
  return answer;
}
