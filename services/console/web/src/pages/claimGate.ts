import type { TierView } from "../api/clients";

export interface Gate {
  /** Minutes the next gate asks for, and the tier it opens; undefined when every gate is passed. */
  next?: { minutes: number; tier: string };
  /** The highest minutes any tier asks for (0 when none does). */
  highest: number;
}

/** The time-worked gates of the tiers (e.g. 3.5 h = 210 min) measured against the minutes worked today. */
export function timeGate(tiers: TierView[], worked: number): Gate {
  const gated = tiers.filter((tier) => tier.min_worked_minutes > 0).sort((a, b) => a.min_worked_minutes - b.min_worked_minutes);
  const ahead = gated.find((tier) => tier.min_worked_minutes > worked);
  return {
    next: ahead ? { minutes: ahead.min_worked_minutes, tier: ahead.name } : undefined,
    highest: gated.length ? gated[gated.length - 1].min_worked_minutes : 0,
  };
}
