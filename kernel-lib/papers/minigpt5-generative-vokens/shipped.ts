/**
 * The recipe on the shipped parts: mm-moe-small (the LM, with 8 vokens), ldm-emoji (the frozen decoder),
 * vqvae-emoji (context images as codes), clip-emoji and the scene checker (the held-out evaluation) and the
 * data sets; and a trained stage loaded back for inference.
 *
 * `trainStage` trains, writes the output directory (metrics.json last of the weights), then runs the held-out
 * evaluation (evaluate-stage.ts) and writes `eval.json`. Called again on a stage that is finished (same run,
 * same steps) it does not train again: it only evaluates when eval.json is missing (`fresh` retrains).
 *
 *   await trainStage({ stage: 1, arm: 'full', baseDir, ldmDir, vqvaeDir, outDir, runDir });
 *   await trainStage({ stage: 2, arm: 'full', stage1Dir, baseDir, ldmDir, vqvaeDir, outDir, runDir });
 *   const { session, mapper, adapter } = await loadStage(outDir, { baseDir });
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session } from '../../session';
import { VQVAE } from '../../image';
import { ClipModel } from '../../eval/clip';
import { SceneChecker } from '../../eval/scene-checker';
import { checkpointDir } from '../../paths';
import { atomicWriteFile } from '../../checkpoint/files';
import type { DataStore } from '../../data/store';
import { LatentDiffusion } from '../../diffusion/model';
import { ensureData } from '../../data/store';
import { vokenStories } from '../../data/voken-stories';
import { loadPeftAdapter } from '../../adapters';
import type { LoRAHandle } from '../../adapters';
import { checkArm } from './arms';
import { FeatureMapper } from './mapper';
import { sceneCaptions, storyItems } from './items';
import { loadVokenRows, VOKENS_FILE } from './vokens';
import { DEFAULTS, runName, StageOptions, trainStageOn } from './recipe';
import { ADAPTER_DIR, MAPPER_DIR, readRunMetrics, RunMetrics } from './run-metrics';
import { evaluateStage, EvalOptions } from './evaluate-stage';
import { EVAL_FILE, readEval } from './eval-file';
import type { StageData } from './stage';
import { finishedRunMetrics } from '../run-places';

export interface RecipeOptions extends StageOptions {
  baseDir: string;
  ldmDir: string;
  vqvaeDir: string;
  /** Stage 2: the stage-1 output it starts from (the voken rows and the mapper); not for text-only. */
  stage1Dir?: string;
  /** Held-out val items probed before and after (default 16; 0: none). */
  probeItems?: number;
  /** The data (default ensureData(): the project's build in .cache/data; tests give a small build). */
  store?: DataStore;
  /** CLIP for the held-out evaluation (default data/checkpoints/clip-emoji). */
  clipDir?: string;
  /** The held-out evaluation's sizes, split, progress (evaluate-stage.ts). */
  eval?: Omit<EvalOptions, 'log' | 'signal'>;
  /** Train again even when outDir holds this finished stage (the CLI's --fresh). */
  fresh?: boolean;
}

/** The metrics of the finished stage `name` with `steps` steps in dir, or null (not there, another run, not done). */
export function finishedStage(dir: string, name: string, steps: number): RunMetrics | null {
  const m = finishedRunMetrics(dir, name, readRunMetrics);
  return m && m.steps === steps ? m : null;
}

/** Whether dir holds a readable eval.json of run `name`. */
function evaluated(dir: string, name: string): boolean {
  if (!fs.existsSync(path.join(dir, EVAL_FILE))) return false;
  try {
    return readEval(dir).run === name;
  } catch {
    return false;
  }
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

/**
 * Trains one stage of one arm on the shipped parts and evaluates it on held-out items (see the file comment);
 * returns its metrics.
 */
export async function trainStage(o: RecipeOptions): Promise<RunMetrics> {
  const arm = checkArm(o.arm, o.stage);
  requireDecoder(o.ldmDir);
  const name = runName(o.stage, arm, o.seed ?? DEFAULTS.seed);
  const done = o.fresh ? null : finishedStage(o.outDir, name, o.steps ?? DEFAULTS.steps[o.stage]);
  if (done && evaluated(o.outDir, name)) {
    (o.log ?? ((x: string) => process.stderr.write(x + '\n')))(`[${name}] ${o.outDir} holds this finished and evaluated stage; nothing to do (--fresh trains it again)`);
    return done;
  }
  const stage1 = o.stage === 2 && arm !== 'text-only' ? o.stage1Dir : undefined;
  if (o.stage === 2 && arm !== 'text-only' && !done) {
    if (stage1 === undefined) throw new Error('minigpt5: stage 2 needs stage1Dir (the stage-1 output of the same arm)');
    requireStage1(stage1);
  }
  const clipDir = o.clipDir ?? checkpointDir('clip-emoji');
  const store = o.store ?? (await ensureData());
  const ldm = LatentDiffusion.load(o.ldmDir);
  const vq = VQVAE.load(o.vqvaeDir);
  const clip = ClipModel.load(clipDir);
  const checker = SceneChecker.fromStore(store);
  const encode = (imgs: Parameters<VQVAE['encodeImages']>[0]) => vq.encodeImages(imgs);
  let session: Session | null = null;
  let mapper: FeatureMapper | null = null;
  let adapter: LoRAHandle | null = null;
  try {
    let metrics: RunMetrics;
    if (done) {
      (o.log ?? ((x: string) => process.stderr.write(x + '\n')))(`[${name}] ${o.outDir} holds this finished stage without its held-out evaluation: evaluating it`);
      ({ session, mapper, adapter } = await loadStage(o.outDir, { baseDir: o.baseDir }));
      metrics = done;
    } else {
      session = await Session.load(o.baseDir);
      if (stage1) {
        loadVokenRows(session.model, session.tokenizer, path.join(stage1, VOKENS_FILE));
        mapper = FeatureMapper.load(path.join(stage1, MAPPER_DIR));
      }
      const nProbe = o.probeItems ?? DEFAULTS.probeItems;
      const range = (n: number) => Array.from({ length: n }, (_, i) => i);
      let data: StageData;
      if (o.stage === 1) {
        const val = sceneCaptions(store, 'val');
        data = { train: sceneCaptions(store, 'train'), probe: val.items(range(Math.min(nProbe, val.size))), description: 'scene captions → scenes (train split): <bos> caption [IMG1]…[IMG8] <eos>', split: 'val' };
      } else {
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
      metrics = r.metrics;
      if (metrics.stopped !== 'done') return metrics;
    }
    const record = await evaluateStage({ session, mapper, ldm }, { name, stage: o.stage, arm, seed: metrics.seed }, { store, clip, checker, encode }, { ...o.eval, log: o.log, signal: o.signal });
    atomicWriteFile(path.join(o.outDir, EVAL_FILE), `${JSON.stringify(record)}\n`);
    return metrics;
  } finally {
    adapter?.detach();
    mapper?.dispose();
    checker.dispose();
    clip.dispose();
    vq.dispose();
    ldm.dispose();
    session?.dispose();
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
