/** Whether the signed-in user supervises (a supervisor, or an admin): the team view and its queries apply. */
export function isSupervisor(roles: readonly string[]): boolean {
  return roles.includes("supervisor") || roles.includes("admin");
}

/** Whether the signed-in user may ask for a person's erasure (POST /v1/erasures on lead-intake): operators, admin. */
export function requestsErasure(roles: readonly string[]): boolean {
  return roles.includes("operator") || roles.includes("admin");
}

/** Whether the signed-in user may read the access logs (who saw which number): operators, auditors, admin. */
export function readsAccessLog(roles: readonly string[]): boolean {
  return roles.includes("operator") || roles.includes("auditor") || roles.includes("admin");
}

/** Whether the signed-in user may read the erasure requests (GET /v1/erasures on lead-intake): operators,
 * auditors, admin. */
export function readsErasures(roles: readonly string[]): boolean {
  return readsAccessLog(roles);
}
