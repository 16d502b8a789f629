import { startTransition } from "react";
import { createRoot } from "react-dom/client";
import { prefetchFirstPage } from "./boot/prefetch";
import { cspNonce } from "./csp/nonce";
import { makeQueryClient, Root } from "./Root";

// Ant Design's CSS-in-JS puts the nonce on every <style> it adds; rc-util's own styles get it through
// src/csp/dynamicCSS.ts.
export function start(): void {
  const queryClient = makeQueryClient();
  prefetchFirstPage(queryClient, window.location);
  const root = createRoot(document.getElementById("root") as HTMLElement);
  // A transition: React renders the first screen in slices, yielding between them, not in one long task.
  startTransition(() => root.render(<Root nonce={cspNonce()} client={queryClient} />));
}
