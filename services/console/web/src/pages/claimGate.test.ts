import { describe, expect, it } from "vitest";
import type { TierView } from "../api/clients";
import { timeGate } from "./claimGate";

const tier = (name: string, minutes: number): TierView => ({
  tier_id: name,
  name,
  filter: {},
  grades: [],
  min_worked_minutes: minutes,
  pool_ids: [],
});
const tiers = [tier("basic", 0), tier("gold", 210), tier("silver", 90)];

describe("time-worked gate", () => {
  it("names the next gate the agent has not reached", () => {
    expect(timeGate(tiers, 60)).toEqual({ next: { minutes: 90, tier: "silver" }, highest: 210 });
    expect(timeGate(tiers, 120)).toEqual({ next: { minutes: 210, tier: "gold" }, highest: 210 });
  });

  it("has no next gate once the 3.5 h one is passed, or when no tier asks for time", () => {
    expect(timeGate(tiers, 210)).toEqual({ next: undefined, highest: 210 });
    expect(timeGate([tier("basic", 0)], 10)).toEqual({ next: undefined, highest: 0 });
  });
});
