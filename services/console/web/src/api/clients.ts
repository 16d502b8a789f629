import type { components as AllocatorComponents, paths as AllocatorPaths } from "./generated/allocator";
import type { components as LedgerComponents, paths as LedgerPaths } from "./generated/ledger";
import type { components as MarketComponents, paths as MarketPaths } from "./generated/marketplace";
import type { paths as MetricsPaths } from "./generated/metrics";
import { serviceClient } from "./http";

export const allocator = serviceClient<AllocatorPaths>("allocator");
export const ledger = serviceClient<LedgerPaths>("ledger");
export const marketplace = serviceClient<MarketPaths>("marketplace");
export const metrics = serviceClient<MetricsPaths>("metrics");

type A = AllocatorComponents["schemas"];
type L = LedgerComponents["schemas"];
type M = MarketComponents["schemas"];

export type AgentView = A["AgentView"];
export type LeadView = A["LeadView"];
export type TierView = A["TierView"];
export type ClaimIn = A["ClaimIn"];
export type ClaimResult = A["ClaimResult"];
export type StageIn = A["StageIn"];
export type FunnelStep = A["FunnelStep"];
export type UserView = L["UserView"];
export type StatementPage = L["StatementPage"];
export type StatementLine = L["StatementLine"];
export type TipView = M["TipView"];
export type PurchaseView = M["PurchaseView"];
export type CallStage = M["CallStage"];
export type LearnIn = M["LearnIn"];

/** Signals another helper is adding to LeadView; optional here so the app builds with or without them. */
export interface ReclaimInfo {
  kind: string;
  at: string;
}
export interface HotInfo {
  kind: string;
  detail?: string | null;
  at?: string | null;
}
export type LeadRow = LeadView & { reclaim?: ReclaimInfo | null; hot?: HotInfo | null };

export const FUNNEL_STEPS: FunnelStep[] = ["valid", "intent", "agreed_visit", "actual_visit", "plan", "paid"];
export const CALL_STAGES: CallStage[] = ["opening", "quoting", "objection_handling", "service_introduction", "closing"];
