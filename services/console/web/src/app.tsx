import { createRoot } from "react-dom/client";
import { prefetchFirstPage } from "./boot/prefetch";
import { cspNonce } from "./csp/nonce";
import { makeQueryClient, Root } from "./Root";

// Ant Design's CSS-in-JS puts the nonce on every <style> it adds; rc-util's own styles get it through
// src/csp/dynamicCSS.ts.
export function start(): void {
  const queryClient = makeQueryClient();
  prefetchFirstPage(queryClient, window.location);
  createRoot(document.getElementById("root") as HTMLElement).render(<Root nonce={cspNonce()} client={queryClient} />);
}
