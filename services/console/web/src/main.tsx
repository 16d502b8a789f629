import { createRoot } from "react-dom/client";
import { Root } from "./Root";
import "./styles.css";

/** The nonce the BFF writes into index.html; Ant Design's CSS-in-JS puts it on every <style> it adds. */
function cspNonce(): string | undefined {
  const value = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content;
  return value && value !== "__CSP_NONCE__" ? value : undefined;
}

createRoot(document.getElementById("root") as HTMLElement).render(<Root nonce={cspNonce()} />);
