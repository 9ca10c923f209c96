/**
 * The `decode-cost` section of `switchboard bench` (`npm run bench -- --only decode-cost --no-torch`, not in
 * the default run): how a decode step's cost grows with the position. At each position it prefills a random
 * prompt, then times steps in CPU time (process.cpuUsage: on a machine other jobs share, wall time also
 * counts the waits for a core), and separately the step's attention alone (attentionStep of every layer on
 * random q|k|v against the same cache), the part that reads every cached position. Positions take turns in
 * rounds, so a drifting load affects them alike; min and median over rounds are reported.
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEModel } from '../kernel-lib/model/model';
import { headDim } from '../kernel-lib/model/config';
import { attentionStep } from '../kernel-lib/model/attention';
import { RopeTables } from '../kernel-lib/model/layers';
import { mulberry32 } from '../kernel-lib/util/random';
import { median } from './train-turns';

export interface DecodeCostRow {
  position: number;
  /** CPU ms per full step (capture 'routing'), min and median over rounds. */
  step: { min: number; median: number };
  /** CPU ms per step's attention (all layers), min and median over rounds. */
  attention: { min: number; median: number };
}

export interface DecodeCostBench {
  steps: number;
  rounds: number;
  rows: DecodeCostRow[];
}

const cpuMs = (from: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1000;
};

export function benchDecodeCost(model: MoEModel, o: { quick: boolean; log: (msg: string) => void }): DecodeCostBench {
  const c = model.config;
  const steps = o.quick ? 4 : 32;
  const rounds = o.quick ? 2 : 9;
  const longest = Math.floor((c.maxPositions - 2 * steps - 2) / 64) * 64;
  const positions = [16, 128, 512, 960].filter((p) => p <= longest);
  if (!positions.includes(longest) && longest > 16) positions.push(longest);
  const shape = { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: headDim(c) };
  const rope = new RopeTables(c.maxPositions, shape.headDim, c.ropeTheta);
  const qkv = tf.keep(tf.randomNormal([1, (c.numHeads + 2 * c.numKvHeads) * shape.headDim], 0, 0.5, 'float32', 3)) as tf.Tensor2D;
  const rand = mulberry32(17);
  const stepMs = new Map<number, number[]>(positions.map((p) => [p, []]));
  const attnMs = new Map<number, number[]>(positions.map((p) => [p, []]));
  o.log(`decode cost at positions ${positions.join(', ')}: ${rounds} rounds of ${steps} steps, CPU time`);
  for (let r = 0; r < rounds; r++) {
    for (const P of positions) {
      const { cache, logits } = model.prefill(Array.from({ length: P }, () => Math.floor(rand() * c.vocabSize)), 'none');
      let tok = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[tok]) tok = j;
      model.step(cache, tok, 'routing'); // warm
      let t0 = process.cpuUsage();
      for (let i = 0; i < steps; i++) model.step(cache, (tok + 31 * i) % c.vocabSize, 'routing');
      stepMs.get(P)!.push(cpuMs(t0) / steps);
      t0 = process.cpuUsage();
      for (let i = 0; i < steps; i++) {
        cache.reserve(1);
        tf.tidy(() => {
          for (let l = 0; l < c.numLayers; l++) attentionStep(qkv, rope, cache, l, shape, null);
        });
        cache.advance();
      }
      attnMs.get(P)!.push(cpuMs(t0) / steps);
      cache.dispose();
    }
  }
  qkv.dispose();
  rope.dispose();
  const rows = positions.map((position) => {
    const s = stepMs.get(position)!;
    const a = attnMs.get(position)!;
    return { position, step: { min: Math.min(...s), median: median(s) }, attention: { min: Math.min(...a), median: median(a) } };
  });
  return { steps, rounds, rows };
}

export function formatDecodeCost(b: DecodeCostBench): string {
  const first = b.rows[0];
  const f = (x: number): string => x.toFixed(3);
  const lines = [
    `decode cost by position, CPU ms per token (min / median of ${b.rounds} rounds × ${b.steps} steps; capture on)`,
    '',
    '| position | step | attention (all layers) | step ÷ step at ' + first.position + ' |',
    '| ---: | ---: | ---: | ---: |',
    ...b.rows.map((r) => `| ${r.position} | ${f(r.step.min)} / ${f(r.step.median)} | ${f(r.attention.min)} / ${f(r.attention.median)} | ${(r.step.min / first.step.min).toFixed(2)}× / ${(r.step.median / first.step.median).toFixed(2)}× |`),
    '',
  ];
  return lines.join('\n');
}
