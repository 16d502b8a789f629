/** The app's words: Chinese first (zh.ts, which defines the keys), English second (en.ts). */
import { zh } from "./zh";

export { zh };
export { en } from "./en";
export type MessageKey = keyof typeof zh;
