import { theme } from "antd";
import { describe, expect, it } from "vitest";
import { themeTokens } from "./theme";

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const linear = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

function contrastWithWhite(hex: string): number {
  return 1.05 / (luminance(hex) + 0.05);
}

// The tokens as Ant Design derives them from ours: what the components are painted with.
const tokens = theme.getDesignToken({ token: themeTokens }) as unknown as Record<string, string>;

describe("the console's colours", () => {
  it.each([
    "colorPrimary", "colorPrimaryHover", "colorPrimaryActive", // white on a primary button, at rest, hovered, pressed
    "colorError", "colorErrorHover", "colorErrorActive", // white on a danger button
    "colorLink", "colorLinkHover", "colorLinkActive", "colorSuccess", "colorWarning", // text on white
  ])("%s has at least 4.5:1 contrast with white", (name) => {
    expect(tokens[name]).toMatch(/^#[0-9a-f]{6}$/i);
    expect(contrastWithWhite(tokens[name])).toBeGreaterThanOrEqual(4.5);
  });

  it("knows a colour that fails", () => {
    expect(contrastWithWhite("#2e7ae6")).toBeLessThan(4.5); // Ant Design's hover shade of our primary
    expect(contrastWithWhite("#0958d9")).toBeGreaterThan(6);
  });
});
