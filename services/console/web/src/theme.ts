import type { ThemeConfig } from "antd";

// Every colour that carries words has at least 4.5:1 contrast (WCAG 2 AA) with what is under it: text
// colours on white, and white on filled buttons, hovered and pressed too. Ant Design's defaults, and the
// hover shades it derives from a primary colour (lighter), are under that; the hover and pressed shades
// here are darker instead. theme.test.ts checks the tokens Ant Design ends up with.
export const themeTokens: ThemeConfig["token"] = {
  colorPrimary: "#0958d9",
  colorPrimaryHover: "#003eb3",
  colorPrimaryActive: "#002c8c",
  colorLink: "#0958d9",
  colorLinkHover: "#003eb3",
  colorLinkActive: "#002c8c",
  colorInfo: "#0958d9",
  colorSuccess: "#237804",
  colorError: "#cf1322",
  colorErrorHover: "#a8071a",
  colorErrorActive: "#820014",
  colorWarning: "#ad4e00",
  colorTextDescription: "rgba(0,0,0,0.65)",
  colorTextTertiary: "rgba(0,0,0,0.6)",
};
