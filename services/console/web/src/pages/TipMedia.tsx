import { useMutation } from "@tanstack/react-query";
import { Progress } from "antd";
import { useEffect, useMemo, useRef, useState } from "react";
import { marketplace } from "../api/clients";
import { unwrap } from "../api/http";
import { useI18n } from "../i18n";

const REPORT_EVERY_SECONDS = 15;

/** Plays a tip's media in the page (the browser asks with Range) and reports progress and watch time. */
export function TipMedia({ tipId, contentType, title }: { tipId: string; contentType: string; title: string }) {
  const { t } = useI18n();
  const sessionId = useMemo(() => crypto.randomUUID(), []);
  const player = useRef<HTMLMediaElement | null>(null);
  const watched = useRef({ seconds: 0, lastTick: undefined as number | undefined, lastReport: 0 });
  const [percent, setPercent] = useState(0);
  const learn = useMutation({
    mutationFn: (body: { progress_percent: number; session_seconds: number }) =>
      unwrap(
        marketplace.POST("/v1/tips/{tip_id}/learning", {
          params: { path: { tip_id: tipId } },
          body: { session_id: sessionId, ...body },
        }),
      ),
  });
  const report = (force: boolean) => {
    const media = player.current;
    if (!media || !media.duration || !Number.isFinite(media.duration)) return;
    const progress = Math.min(100, Math.round((media.currentTime / media.duration) * 100));
    setPercent(progress);
    const seconds = Math.floor(watched.current.seconds);
    if (force || seconds - watched.current.lastReport >= REPORT_EVERY_SECONDS) {
      watched.current.lastReport = seconds;
      learn.mutate({ progress_percent: progress, session_seconds: Math.min(seconds, 86400) });
    }
  };
  const onTime = () => {
    const now = performance.now();
    const last = watched.current.lastTick;
    // Watch time counts while playing only (seeking is not watching).
    if (last !== undefined && player.current && !player.current.paused) {
      watched.current.seconds += Math.min((now - last) / 1000, 2);
    }
    watched.current.lastTick = now;
    report(false);
  };
  useEffect(() => () => report(true), []); // eslint-disable-line react-hooks/exhaustive-deps
  const src = `/api/marketplace/v1/tips/${encodeURIComponent(tipId)}/media`;
  const common = {
    src,
    controls: true,
    preload: "metadata" as const,
    onTimeUpdate: onTime,
    onPlay: () => (watched.current.lastTick = performance.now()),
    onPause: () => report(true),
    onEnded: () => report(true),
    "aria-label": title,
    className: "tip-media",
  };
  return (
    <div>
      {contentType.startsWith("audio/") ? (
        <audio ref={(node) => (player.current = node)} {...common} />
      ) : (
        <video ref={(node) => (player.current = node)} {...common} width="100%" />
      )}
      <Progress percent={percent} size="small" aria-label={t("tips.progress", { percent })} />
    </div>
  );
}
