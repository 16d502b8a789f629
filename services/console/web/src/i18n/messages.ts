/** The app's words: Chinese first (zh.ts, which defines the keys), English second (en.ts); the team view's
 * words (team.ts) merged in. */
import { en as coreEn } from "./en";
import { teamEn, teamZh } from "./team";
import { zh as coreZh } from "./zh";

export const zh = { ...coreZh, ...teamZh };
export type MessageKey = keyof typeof zh;
export const en: Record<MessageKey, string> = { ...coreEn, ...teamEn };
