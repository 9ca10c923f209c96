/** What a MUMU run is given: its loaded parts and its data (recipe.ts trains on them, metrics.ts records them). */
import type { Session } from '../../session';
import type { LatentDiffusion } from '../../diffusion/model';
import type { MumuItem, MumuSource } from './items';

/** What a run trains on: the frozen LM (prompt arms), the decoder, names for metrics.json. */
export interface MumuParts {
  session: Session | null;
  ldm: LatentDiffusion;
  names: { base: string; decoder: string };
}

export interface MumuData {
  train: MumuSource;
  /** Held-out items whose loss is probed before and after training. */
  probe: readonly MumuItem[];
  /** The share of the training crops the data augments (must be the arm's). */
  augmentRate: number;
  description: string;
  split: string;
}
