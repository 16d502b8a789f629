import type { QueryClient } from "@tanstack/react-query";
import { leadQuery, tipQuery } from "../api/queries";
import type { LeadRow } from "../api/clients";
import type { AppNotification } from "./types";

/** What a notification's sentence calls its lead and tip: the customer's name and the tip's title, not ids. */
export interface SubjectNames {
  lead?: string;
  tip?: string;
}

// A toast waits this long at most for a name it has to ask for; then it says the id.
const NAME_WAIT_MS = 400;

function withinWait<T>(promise: Promise<T>): Promise<T | undefined> {
  return Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), NAME_WAIT_MS))]);
}

/** The names known already: the lead in my leads or its own page's data, the tip's page data. */
export function cachedNames(queryClient: QueryClient, subject: AppNotification["subject"]): SubjectNames {
  const leadId = typeof subject?.lead_id === "string" ? subject.lead_id : undefined;
  const tipId = typeof subject?.tip_id === "string" ? subject.tip_id : undefined;
  const names: SubjectNames = {};
  if (leadId) {
    const one = queryClient.getQueryData<LeadRow>(leadQuery(leadId).queryKey);
    const listed = queryClient
      .getQueriesData<LeadRow[]>({ queryKey: ["leads"] })
      .flatMap(([, rows]) => rows ?? [])
      .find((row) => row.lead_id === leadId);
    names.lead = (one ?? listed)?.name ?? undefined;
  }
  if (tipId) names.tip = queryClient.getQueryData<{ title?: string }>(tipQuery(tipId).queryKey)?.title;
  return names;
}

/** The names, asking the services for those not known yet (briefly: a toast is not held back for them). A
 * lead taken back from me is no longer mine to read; its id stays. */
export async function resolveNames(queryClient: QueryClient, notification: AppNotification): Promise<SubjectNames> {
  const names = cachedNames(queryClient, notification.subject);
  const subject = notification.subject ?? {};
  const asks: Promise<void>[] = [];
  if (!names.lead && typeof subject.lead_id === "string" && notification.kind !== "lead_reclaimed" && notification.kind !== "lead_do_not_call") {
    const leadId = subject.lead_id;
    asks.push(withinWait(queryClient.fetchQuery(leadQuery(leadId))).then(
      (lead) => { names.lead = lead?.name ?? undefined; },
      () => undefined,
    ));
  }
  if (!names.tip && typeof subject.tip_id === "string") {
    const tipId = subject.tip_id;
    asks.push(withinWait(queryClient.fetchQuery(tipQuery(tipId))).then(
      (tip) => { names.tip = tip?.title ?? undefined; },
      () => undefined,
    ));
  }
  await Promise.all(asks);
  return names;
}
