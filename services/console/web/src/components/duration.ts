import type { Translate } from "../i18n";

/** "2 天 3 小时" / "2 d 3 h": the two largest units of a span, minutes only under a day. */
export function durationWords(t: Translate, milliseconds: number): string {
  const totalMinutes = Math.max(0, Math.ceil(milliseconds / 60_000));
  const days = Math.floor(totalMinutes / 1440);
  const hours = Math.floor((totalMinutes % 1440) / 60);
  const minutes = totalMinutes % 60;
  const parts: string[] = [];
  if (days) parts.push(t("time.days", { n: days }));
  if (hours) parts.push(t("time.hours", { n: hours }));
  if (!days && (minutes || !hours)) parts.push(t("time.minutes", { n: minutes }));
  return parts.join(t("time.sep"));
}

export function minutesWords(t: Translate, minutes: number): string {
  return durationWords(t, minutes * 60_000);
}
