/** A refusal from the BFF or a service (RFC 9457 problem+json), kept as words for the user. */
export interface Problem {
  title?: string;
  detail?: string;
  code?: string;
  status?: number;
  login_url?: string;
  /** A refused dial (409 dial_refused): why, and until when a resting lead rests. */
  reason?: string;
  rest_until?: string;
}

interface ValidationItem {
  loc?: unknown[];
  msg?: string;
}

/** An answer that was not a success; `problem` holds what the server said, if anything. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(problemDetail(problem) ?? `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

/** The sentence to show for a problem body: its detail, else its title (FastAPI's 422 list joined). */
export function problemDetail(problem: unknown): string | undefined {
  if (!problem || typeof problem !== "object") return undefined;
  const body = problem as { detail?: unknown; title?: unknown };
  if (typeof body.detail === "string" && body.detail.trim()) return body.detail;
  if (Array.isArray(body.detail)) {
    const parts = (body.detail as ValidationItem[])
      .map((item) => {
        const where = (item.loc ?? []).filter((part) => part !== "body").join(".");
        return item.msg ? (where ? `${where}: ${item.msg}` : item.msg) : undefined;
      })
      .filter(Boolean);
    if (parts.length) return parts.join("; ");
  }
  if (typeof body.title === "string" && body.title.trim()) return body.title;
  return undefined;
}

/** Turns a parsed error body (or a text one) into a Problem. */
export function toProblem(status: number, body: unknown): Problem {
  if (body && typeof body === "object") {
    const raw = body as Record<string, unknown>;
    return {
      title: typeof raw.title === "string" ? raw.title : undefined,
      detail: problemDetail(raw),
      code: typeof raw.code === "string" ? raw.code : undefined,
      status,
      login_url: typeof raw.login_url === "string" ? raw.login_url : undefined,
      reason: typeof raw.reason === "string" ? raw.reason : undefined,
      rest_until: typeof raw.rest_until === "string" ? raw.rest_until : undefined,
    };
  }
  return { status };
}
