/* rc-util's dynamicCSS with the page's CSP nonce on every <style> it adds (vite.config.ts resolves
 * every import of rc-util/es/Dom/dynamicCSS.js here). ConfigProvider's `csp` reaches only antd's CSS-in-JS: rc-table's
 * scrollbar measure (getTargetScrollBarSize) and the modal scroll lock call updateCSS with no options,
 * so their <style> had no nonce and the strict style-src refused it. */
import {
  clearContainerCache,
  injectCSS as rcInjectCSS,
  removeCSS,
  updateCSS as rcUpdateCSS,
} from "rc-util/es/Dom/dynamicCSS.js";
import { cspNonce } from "./nonce";

type Options = NonNullable<Parameters<typeof rcInjectCSS>[1]>;

let nonce: string | undefined | null = null;

function withNonce(option: Options): Options {
  if (nonce === null) nonce = cspNonce();
  if (!nonce || option.csp?.nonce) return option;
  return { ...option, csp: { ...option.csp, nonce } };
}

export function injectCSS(css: string, option: Options = {}) {
  return rcInjectCSS(css, withNonce(option));
}

export function updateCSS(css: string, key: string, option: Options = {}) {
  return rcUpdateCSS(css, key, withNonce(option));
}

export { clearContainerCache, removeCSS };
