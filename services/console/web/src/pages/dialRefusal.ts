import dayjs from "dayjs";
import type { Translate } from "../i18n";

/** Why the allocator refuses a dial (POST /v1/leads/{id}/dial's `reason`, or the BFF's 409 dial_refused). */
export interface DialRefusal {
  reason?: string | null;
  rest_until?: string | null;
}

const REASONS = ["do_not_call", "not_held", "not_the_holder", "closed", "won", "no_number"] as const;

/** The refusal in words: a resting lead says until when, the do-not-call list is named, never a code. */
export function dialRefusalWords(t: Translate, refusal: DialRefusal): string {
  const { reason, rest_until: until } = refusal;
  let why: string;
  if (reason === "resting" && until) why = t("work.dialRefused.resting", { until: dayjs(until).format("YYYY-MM-DD HH:mm") });
  else if ((REASONS as readonly (string | null | undefined)[]).includes(reason)) {
    why = t(`work.dialRefused.${reason as (typeof REASONS)[number]}`);
  } else why = t("work.dialRefused.other");
  return t("work.dialRefused", { why });
}
