import type { components as AllocatorComponents, paths as AllocatorPaths } from "./generated/allocator";
import type { components as LeadIntakeComponents, paths as LeadIntakePaths } from "./generated/lead-intake";
import type { components as LedgerComponents, paths as LedgerPaths } from "./generated/ledger";
import type { components as MarketComponents, paths as MarketPaths } from "./generated/marketplace";
import type { components as MetricsComponents, paths as MetricsPaths } from "./generated/metrics";
import { serviceClient } from "./http";

export const allocator = serviceClient<AllocatorPaths>("allocator");
export const leadIntake = serviceClient<LeadIntakePaths>("lead-intake");
export const ledger = serviceClient<LedgerPaths>("ledger");
export const marketplace = serviceClient<MarketPaths>("marketplace");
export const metrics = serviceClient<MetricsPaths>("metrics");

type A = AllocatorComponents["schemas"];
type L = LedgerComponents["schemas"];
type M = MarketComponents["schemas"];
type X = MetricsComponents["schemas"];

export type AgentView = A["AgentView"];
/** One answer that showed leads in full (the same record on every service that keeps an access log). */
export type AccessRecordView = A["AccessRecordView"];
export type LeadView = A["LeadView"];
/** The middle number an allowed dial answers when the tenant calls through a number-privacy provider. */
export type DialBinding = A["DialBinding"];
export type TierView = A["TierView"];
export type ClaimIn = A["ClaimIn"];
export type ClaimResult = A["ClaimResult"];
export type StageIn = A["StageIn"];
export type DealMarkView = A["DealMarkView"];
export type DealMarkDecisionIn = A["DealMarkDecisionIn"];
export type FunnelStep = A["FunnelStep"];
export type ApplicationView = A["ApplicationView"];
export type ApplicationPage = A["ApplicationPage"];
export type UserView = L["UserView"];
export type StatementPage = L["StatementPage"];
export type StatementLine = L["StatementLine"];
export type TipView = M["TipView"];
export type PurchaseView = M["PurchaseView"];
export type CallStage = M["CallStage"];
export type LearnIn = M["LearnIn"];

export type ReclaimClockView = A["ReclaimClockView"];
export type HotSignal = A["HotSignal"];
export type ScorePart = A["ScorePart"];
export type HistoryEntry = A["HistoryEntry"];
export type HistoryKind = HistoryEntry["kind"];
export type SignalKind = A["SignalKind"];
/** A lead as the agent's list and the lead page show it (the allocator's LeadView). */
export type LeadRow = LeadView;
export type AgentIndicators = X["AgentIndicators"];
export type IndicatorCounts = X["IndicatorCounts"];
export type PerAgentAverages = X["PerAgentAverages"];

export const HISTORY_KINDS: HistoryKind[] = [
  "claimed",
  "assigned",
  "returned",
  "reclaimed",
  "closed",
  "won",
  "reopened",
  "call",
  "stage",
  "signal",
  "deal_mark",
  "win_confirmed",
];
export const SIGNAL_KINDS: SignalKind[] = ["unpaid_order", "long_browsing", "redemption", "level_up"];

export const FUNNEL_STEPS: FunnelStep[] = ["valid", "intent", "agreed_visit", "actual_visit", "plan", "paid"];
export const CALL_STAGES: CallStage[] = ["opening", "quoting", "objection_handling", "service_introduction", "closing"];

export type ErasureView = LeadIntakeComponents["schemas"]["ErasureView"];
