/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const bff = "http://127.0.0.1:8106";

export default defineConfig({
  plugins: [react()],
  resolve: {
    // Every <style> rc-util adds gets the CSP nonce (see src/csp/dynamicCSS.ts).
    alias: [
      {
        find: /^rc-util\/es\/Dom\/dynamicCSS$/,
        replacement: fileURLToPath(new URL("./src/csp/dynamicCSS.ts", import.meta.url)),
      },
    ],
  },
  server: {
    port: 5173,
    proxy: {
      "/api": { target: bff, changeOrigin: false },
      "/v1": { target: bff, changeOrigin: false },
      "/auth": { target: bff, changeOrigin: false },
    },
  },
  build: {
    outDir: "dist",
    sourcemap: false,
    // No inline scripts or styles (CSP script-src 'self'): the module preload polyfill would be inline.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender")) return "echarts";
          if (/node_modules\/(react|react-dom|scheduler|react-router|react-router-dom|@remix-run)\//.test(id)) return "react";
          return undefined;
        },
      },
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["src/test/setup.ts"],
    css: false,
    testTimeout: 20_000,
  },
});
