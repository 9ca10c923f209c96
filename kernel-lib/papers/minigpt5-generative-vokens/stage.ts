/**
 * The types a stage of the recipe is run with and reports: its parts (LM session, frozen decoder, starting
 * mapper), its data, and the event each step reports.
 */
import type { Session } from '../../session';
import type { RecipeStep } from '../recipe-metrics';
import type { LatentDiffusion } from '../../diffusion/model';
import type { FeatureMapper } from './mapper';
import type { VokenItem, VokenSource } from './items';

/** What a stage trains on: the LM session (stage 2: with the stage-1 voken rows), the frozen decoder, the stage-1 mapper (stage 2). */
export interface StageParts {
  session: Session;
  ldm: LatentDiffusion;
  /** Stage 2's starting mapper (stage 1's output); null in stage 1 (a fresh one is made) and for text-only. */
  mapper: FeatureMapper | null;
  /** Names of the base LM, the decoder and (stage 2) the stage-1 output, for metrics.json. */
  names: { base: string; decoder: string; from?: string };
}

export interface StageData {
  train: VokenSource;
  /** Held-out items whose losses are probed before and after training. */
  probe: readonly VokenItem[];
  description: string;
  split: string;
}

/**
 * What onProgress receives after each step: the loop's numbers and timing (`loss` the weighted total), the
 * padded tokens (B × T) of the step's batch, and below its image rows and each loss before weighting.
 */
export interface StageEvent extends RecipeStep {
  /** Each loss before weighting (null where it is off or the batch had no image row). */
  text: number;
  ldm: number | null;
  cap: number | null;
  images: number;
}
