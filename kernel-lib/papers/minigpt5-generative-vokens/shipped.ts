/**
 * The recipe on the shipped parts: mm-moe-small (the LM, with 8 vokens), ldm-emoji (the frozen decoder),
 * vqvae-emoji (context images as codes) and the data sets; and a trained stage loaded back for inference.
 *
 *   await trainStage({ stage: 1, arm: 'full', baseDir, ldmDir, vqvaeDir, outDir, runDir });
 *   await trainStage({ stage: 2, arm: 'full', stage1Dir, baseDir, ldmDir, vqvaeDir, outDir, runDir });
 *   const { session, mapper, adapter } = await loadStage(outDir, { baseDir });
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session } from '../../session';
import { VQVAE } from '../../image';
import { LatentDiffusion } from '../../diffusion/model';
import { ensureData } from '../../data/store';
import { vokenStories } from '../../data/voken-stories';
import { loadPeftAdapter } from '../../adapters';
import type { LoRAHandle } from '../../adapters';
import { checkArm } from './arms';
import { FeatureMapper } from './mapper';
import { sceneCaptions, storyItems } from './items';
import { loadVokenRows, VOKENS_FILE } from './vokens';
import { DEFAULTS, StageOptions, trainStageOn } from './recipe';
import { ADAPTER_DIR, MAPPER_DIR, RunMetrics } from './run-metrics';
import type { StageData } from './stage';

export interface RecipeOptions extends StageOptions {
  baseDir: string;
  ldmDir: string;
  vqvaeDir: string;
  /** Stage 2: the stage-1 output it starts from (the voken rows and the mapper); not for text-only. */
  stage1Dir?: string;
  /** Held-out val items probed before and after (default 16; 0: none). */
  probeItems?: number;
}

/** Refuses, naming what to do, when the diffusion decoder has not been trained yet. */
export function requireDecoder(ldmDir: string): void {
  if (!fs.existsSync(path.join(ldmDir, 'config.json'))) {
    throw new Error(`minigpt5: the diffusion decoder ${ldmDir} does not exist; MiniGPT-5 trains against a frozen, trained decoder: train it first (npm run train:diffusion)`);
  }
}

/** Refuses a stage-1 output that is not complete (its metrics.json is written last). */
export function requireStage1(dir: string): void {
  for (const f of [VOKENS_FILE, MAPPER_DIR, 'metrics.json']) {
    if (!fs.existsSync(path.join(dir, f))) throw new Error(`minigpt5: stage 2 starts from a finished stage 1, but ${path.join(dir, f)} does not exist (run stage 1 of the same arm and seed first)`);
  }
}

/** Trains one stage of one arm on the shipped parts (see the file comment); returns its metrics. */
export async function trainStage(o: RecipeOptions): Promise<RunMetrics> {
  const arm = checkArm(o.arm, o.stage);
  requireDecoder(o.ldmDir);
  const stage1 = o.stage === 2 && arm !== 'text-only' ? o.stage1Dir : undefined;
  if (o.stage === 2 && arm !== 'text-only') {
    if (stage1 === undefined) throw new Error('minigpt5: stage 2 needs stage1Dir (the stage-1 output of the same arm)');
    requireStage1(stage1);
  }
  const session = await Session.load(o.baseDir);
  const ldm = LatentDiffusion.load(o.ldmDir);
  const vq = o.stage === 2 ? VQVAE.load(o.vqvaeDir) : null;
  let mapper: FeatureMapper | null = null;
  let adapter: LoRAHandle | null = null;
  try {
    if (stage1) {
      loadVokenRows(session.model, session.tokenizer, path.join(stage1, VOKENS_FILE));
      mapper = FeatureMapper.load(path.join(stage1, MAPPER_DIR));
    }
    const store = await ensureData();
    const nProbe = o.probeItems ?? DEFAULTS.probeItems;
    const range = (n: number) => Array.from({ length: n }, (_, i) => i);
    let data: StageData;
    if (o.stage === 1) {
      const val = sceneCaptions(store, 'val');
      data = { train: sceneCaptions(store, 'train'), probe: val.items(range(Math.min(nProbe, val.size))), description: 'scene captions → scenes (train split): <bos> caption [IMG1]…[IMG8] <eos>', split: 'val' };
    } else {
      const encode = (imgs: Parameters<VQVAE['encodeImages']>[0]) => (vq as VQVAE).encodeImages(imgs);
      // the text-only baseline has no image-only task (its rows carry no image)
      const tasks = arm === 'text-only' ? (['text', 'text-image'] as const) : undefined;
      const val = storyItems(vokenStories(store, { split: 'val', tasks }), encode);
      data = {
        train: storyItems(vokenStories(store, { split: 'train', seed: o.seed ?? DEFAULTS.seed, tasks }), encode),
        probe: val.items(range(Math.min(nProbe, val.size))),
        description: 'stories (train split): frames before k as context (narration + image codes), then frame k as a text, image or text + image task',
        split: 'val',
      };
    }
    const r = await trainStageOn({ session, ldm, mapper, names: { base: o.baseDir, decoder: o.ldmDir, ...(stage1 ? { from: stage1 } : {}) } }, data, o);
    adapter = r.adapter;
    if (o.stage === 1) mapper = r.mapper;
    return r.metrics;
  } finally {
    adapter?.detach();
    mapper?.dispose();
    vq?.dispose();
    ldm.dispose();
    session.dispose();
  }
}

/**
 * A trained stage back for inference: the base LM with the stage's voken rows (and LoRA, stage 2) and its
 * mapper. Detach the adapter and dispose the mapper before disposing the session.
 */
export async function loadStage(dir: string, o: { baseDir: string }): Promise<{ session: Session; mapper: FeatureMapper | null; adapter: LoRAHandle | null }> {
  if (!fs.existsSync(path.join(dir, 'metrics.json'))) throw new Error(`minigpt5.loadStage: ${dir} holds no finished stage (no metrics.json)`);
  const session = await Session.load(o.baseDir);
  let mapper: FeatureMapper | null = null;
  try {
    if (fs.existsSync(path.join(dir, VOKENS_FILE))) loadVokenRows(session.model, session.tokenizer, path.join(dir, VOKENS_FILE));
    mapper = fs.existsSync(path.join(dir, MAPPER_DIR)) ? FeatureMapper.load(path.join(dir, MAPPER_DIR)) : null;
    const adapter = fs.existsSync(path.join(dir, ADAPTER_DIR)) ? loadPeftAdapter(session, path.join(dir, ADAPTER_DIR)) : null;
    return { session, mapper, adapter };
  } catch (err) {
    mapper?.dispose();
    session.dispose();
    throw err;
  }
}
