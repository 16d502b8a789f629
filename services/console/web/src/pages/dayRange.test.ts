import { describe, expect, it } from "vitest";
import { shanghaiToday } from "./dayRange";

describe("today on the floor's clock", () => {
  it("is already tomorrow in Shanghai at 17:00 UTC", () => {
    expect(shanghaiToday(new Date("2025-03-01T17:00:00Z"))).toBe("2025-03-02");
  });

  it("is the same day in the morning UTC", () => {
    expect(shanghaiToday(new Date("2025-03-01T02:00:00Z"))).toBe("2025-03-01");
  });

  it("agrees with the time-zone database at every hour from 1992 to 2030", () => {
    const shanghai = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", dateStyle: "short" });
    const differing: string[] = [];
    for (let t = Date.UTC(1992, 0, 1); t < Date.UTC(2030, 0, 1); t += 3_600_000) {
      const at = new Date(t);
      if (shanghaiToday(at) !== shanghai.format(at)) differing.push(at.toISOString());
    }
    expect(differing).toEqual([]);
  });
});
