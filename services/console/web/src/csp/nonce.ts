/** The nonce the BFF writes into index.html (`<meta name="csp-nonce">`), or undefined in dev and tests. */
export function cspNonce(): string | undefined {
  if (typeof document === "undefined") return undefined;
  const value = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content;
  return value && value !== "__CSP_NONCE__" ? value : undefined;
}
