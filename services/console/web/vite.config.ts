/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";

const bff = "http://127.0.0.1:8106";

/** Every import of rc-util's dynamicCSS (bare or relative, e.g. from its getScrollBarSize) resolves to
 * src/csp/dynamicCSS.ts, which adds the page's CSP nonce; the wrapper's own import reaches the real one.
 * (The dev server sends no CSP, and its pre-bundled deps skip this.) */
function rcUtilStyleNonce(): Plugin {
  const wrapper = fileURLToPath(new URL("./src/csp/dynamicCSS.ts", import.meta.url));
  return {
    name: "rc-util-style-nonce",
    enforce: "pre",
    async resolveId(source, importer, options) {
      if (!source.includes("dynamicCSS") || importer === wrapper) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved && /[\\/]rc-util[\\/]es[\\/]Dom[\\/]dynamicCSS\.js$/.test(resolved.id) ? wrapper : null;
    },
  };
}

/** Writes a Brotli (.br) and a gzip (.gz) copy beside every text asset of the build: the console serves them
 * as they are (console/web_app.py) instead of compressing each answer again, in its event loop. */
function precompressAssets(): Plugin {
  let outDir = "dist";
  return {
    name: "precompress-assets",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    async closeBundle() {
      const assets = join(outDir, "assets");
      for (const name of await readdir(assets)) {
        if (!/\.(js|css|svg|json)$/.test(name)) continue;
        const body = await readFile(join(assets, name));
        if (body.length < 1024) continue; // as the server's own gzip: not worth a header below 1 KiB
        await writeFile(join(assets, `${name}.br`), brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }));
        await writeFile(join(assets, `${name}.gz`), gzipSync(body, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  plugins: [react(), rcUtilStyleNonce(), precompressAssets()],
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
    // dist/.vite/manifest.json: which chunks each entry and page needs (tests/test_console_web.py weighs
    // what a first screen downloads from it).
    manifest: true,
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
