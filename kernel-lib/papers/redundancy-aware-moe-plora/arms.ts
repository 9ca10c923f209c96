/**
 * The mechanism arms of issue #18: which of the paper's trainable parts carries the text damage, and does
 * text replay prevent it. Every arm trains the adapters and the new vocabulary rows; `paper` is the recipe
 * as shipped.
 */
export const ARMS = {
  paper: 'adapters + routers + experts + the new rows train (the paper, §2)',
  frozen: 'routers and experts frozen: only the adapters and the new rows train',
  routers: 'routers train, experts frozen',
  experts: 'experts train, routers frozen',
  replay: 'the paper’s trainable set, with Brown text rows mixed in (25 % of rows, drawn per row as mm-moe-small does)',
} as const;
export type Arm = keyof typeof ARMS;
export const ARM_NAMES = ['paper', 'frozen', 'routers', 'experts', 'replay'] as const satisfies readonly Arm[];
/** Brown text share of the rows in the `replay` arm (mm-moe-small's stage-1 share). */
export const REPLAY_TEXT_FRACTION = 0.25;
