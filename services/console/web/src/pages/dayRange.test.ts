import { describe, expect, it } from "vitest";
import { shanghaiToday } from "./dayRange";

describe("today on the floor's clock", () => {
  it("is already tomorrow in Shanghai at 17:00 UTC", () => {
    expect(shanghaiToday(new Date("2025-03-01T17:00:00Z"))).toBe("2025-03-02");
  });

  it("is the same day in the morning UTC", () => {
    expect(shanghaiToday(new Date("2025-03-01T02:00:00Z"))).toBe("2025-03-01");
  });
});
