/** Whether the signed-in user supervises (a supervisor, or an admin): the team view and its queries apply. */
export function isSupervisor(roles: readonly string[]): boolean {
  return roles.includes("supervisor") || roles.includes("admin");
}
