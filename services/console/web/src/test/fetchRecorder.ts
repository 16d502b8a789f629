/** Records the requests the app's openapi-fetch clients send and answers them as told. The clients capture
 * `fetch` and `Request` when created (at import), so call installFetchRecorder inside vi.hoisted. Relative
 * URLs (the BFF's /api/...) resolve against a placeholder origin, as a browser would against the console. */
export interface Recorded {
  method: string;
  path: string;
  body: unknown;
}

export type Answer = (request: Recorded) => { status: number; body: unknown };

export function installFetchRecorder() {
  const recorded: Recorded[] = [];
  const state: { answer: Answer } = { answer: () => ({ status: 200, body: {} }) };
  const NodeRequest = globalThis.Request;
  class RelativeRequest extends NodeRequest {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" ? new URL(input, "http://console.test") : input, init);
    }
  }
  globalThis.Request = RelativeRequest as typeof Request;
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new RelativeRequest(input, init);
    const text = await request.text();
    const entry = { method: request.method, path: new URL(request.url).pathname, body: text ? JSON.parse(text) : undefined };
    recorded.push(entry);
    const { status, body } = state.answer(entry);
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return { recorded, state };
}
