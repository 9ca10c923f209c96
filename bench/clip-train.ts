/**
 * The `clip-train` section of `switchboard bench` (`npm run bench -- --only clip-train [--workers 1,2]`):
 * wall and CPU ms per training step of the workbench CLIP as `npm run train:clip` trains it — the default
 * `clip-emoji` config at batch 256 on the emoji and scenes training splits, through trainClip itself
 * (batches, shifted patches, the contrastive loss and gradients, AdamW) — on this thread (1) and on
 * data-parallel workers (2, …). Each run starts from a fresh model with the same seed, so the counts do
 * the same work.
 *
 * trainClip's step events carry no per-step times, so a step is timed from one step event to the next
 * (performance.now() and process.cpuUsage(), which counts every thread of the process, workers
 * included); the first step of a run (which starts the workers) is therefore never timed. The worker
 * counts take turns in rounds (train-turns.ts). Wall time is the number that matters, and only on an
 * idle machine.
 */
import { initBackend } from '../kernel-lib/backend/backend';
import { ensureData } from '../kernel-lib/data/store';
import { loadTextTokenizer } from '../kernel-lib/data/text-tokenizer';
import { ClipModel } from '../kernel-lib/eval/clip';
import { ClipConfig, defaultClipConfig } from '../kernel-lib/eval/clip-config';
import { clipExamples } from '../kernel-lib/eval/clip-data';
import { trainClip, ClipTrainData } from '../kernel-lib/eval/train-clip';
import { describeWorkerDevice, formatCountLine, formatLoad, MachineLoad, requireCounts, speedups, StepSamples, takeTurns, watchLoad } from './train-turns';

/** trainClip's default batch, the one `npm run train:clip` trains with. */
const DEFAULT_BATCH = 256;

export interface ClipTrainBench {
  /** The config's overrides of the default (none in the benchmark itself). */
  config: Partial<ClipConfig>;
  parameters: number;
  device: string;
  /** Image–caption pairs per step. */
  batch: number;
  /** Timed steps per worker count. */
  steps: number;
  /** Medians per worker count: wall and process CPU ms per step. */
  per_count: Record<string, { wall_ms: number; cpu_ms: number }>;
  /** Wall-clock steps/s of each count over one thread's (when 1 was measured). */
  speedup: Record<string, number>;
  load: MachineLoad;
}

export async function benchClipTrain(o: { quick: boolean; counts: number[]; log: (s: string) => void; config?: Partial<ClipConfig>; batch?: number }): Promise<ClipTrainBench> {
  requireCounts('clip-train', o.counts);
  const batch = o.batch ?? DEFAULT_BATCH;
  if (!Number.isInteger(batch) || batch < 2) throw new Error(`bench clip-train: batch must be an integer ≥ 2, got ${batch}`);
  const load = watchLoad();
  const dev = await initBackend();
  const tokenizer = loadTextTokenizer();
  const config = defaultClipConfig({ ...o.config, vocabSize: tokenizer.vocabSize });
  const store = await ensureData();
  const data: ClipTrainData = { emoji: clipExamples(store, 'emoji', 'train'), scenes: clipExamples(store, 'scenes', 'train') };
  const rounds = o.quick ? 1 : 3;
  const perRound = o.quick ? 3 : 9; // the first is not timed
  let parameters = 0;
  o.log(
    `CLIP training: ${o.config ? 'config ' + JSON.stringify(o.config) : 'default config'}, batch ${batch} (${data.emoji.length} emoji, ${data.scenes.length} scenes); ` +
      `worker counts ${o.counts.join(', ')} taking turns, ${rounds} round(s) of ${perRound - 1} timed step(s)`,
  );
  const med = await takeTurns({
    counts: o.counts,
    rounds,
    train: async (c, r) => {
      const run: StepSamples = { wall: [], cpu: [] };
      const model = ClipModel.create(tokenizer, config, 0);
      parameters = model.numParams;
      let wall0 = 0;
      let cpu0 = process.cpuUsage();
      try {
        await trainClip(model, data, {
          steps: perRound,
          batchSize: batch,
          seed: r,
          workers: c,
          onEvent: (e) => {
            if (e.kind !== 'step') return;
            const now = performance.now();
            const cpu = process.cpuUsage(cpu0);
            if (e.step > 1) {
              run.wall.push(now - wall0);
              run.cpu.push((cpu.user + cpu.system) / 1000);
            }
            wall0 = now;
            cpu0 = process.cpuUsage();
          },
        });
      } finally {
        model.dispose();
      }
      return run;
    },
    logRun: (r, c, wall) => o.log(`round ${r + 1}: ${c} thread(s) ${wall.toFixed(0)} ms/step`),
  });
  return {
    config: o.config ?? {},
    parameters,
    device: describeWorkerDevice(dev),
    batch,
    steps: rounds * (perRound - 1),
    per_count: Object.fromEntries(Object.entries(med).map(([c, m]) => [c, { wall_ms: m.wall, cpu_ms: m.cpu }])),
    speedup: speedups(Object.fromEntries(Object.entries(med).map(([c, m]) => [c, m.wall]))),
    load: load(),
  };
}

export function formatClipTrain(b: ClipTrainBench): string {
  return [
    `CLIP training step (${Object.keys(b.config).length === 0 ? 'default config' : `config ${JSON.stringify(b.config)}`}, ${b.parameters.toLocaleString('en-US')} parameters, batch ${b.batch}); ${b.device}`,
    formatLoad(b.load),
    ...Object.entries(b.per_count).map(([c, r]) => formatCountLine(c, r.wall_ms, r.cpu_ms, b.speedup[c], 'ms')),
    '',
  ].join('\n');
}
