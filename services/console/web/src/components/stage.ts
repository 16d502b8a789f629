/** The five layers of a lead's stage (contracts' STAGE_LAYERS): 0-19, 20-39, ..., 80-100. */
export const STAGE_LAYERS = [
  "verified_contact",
  "need_found",
  "plan_and_payment_date",
  "contract_and_deposit",
  "paid_in_full",
] as const;
export type StageLayer = (typeof STAGE_LAYERS)[number];

export function stageLayer(percent: number): StageLayer {
  const index = Math.min(Math.max(Math.floor(percent), 0) / 20, STAGE_LAYERS.length - 1);
  return STAGE_LAYERS[Math.floor(index)];
}

/** The layer a lead works towards: the next one up (the last layer's goal is itself). */
export function stageGoal(percent: number): StageLayer {
  const index = STAGE_LAYERS.indexOf(stageLayer(percent));
  return STAGE_LAYERS[Math.min(index + 1, STAGE_LAYERS.length - 1)];
}
