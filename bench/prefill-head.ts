/**
 * Part of the `prefill` section of `switchboard bench`: the LM head only on the rows a host path reads, new
 * against old in the same run on the same prompts.
 *
 *   prefill P   MoEModel.prefill (the head on the last position) against the prefill before (the head over
 *               every position, its last row read; bench/head-legacy.ts legacyPrefill), at P = 64 and 200
 *   trace P     the routing-only forward of Session.trace (forwardRows with no rows: no head at all) against
 *               the full forward it replaced (forward, every row's logits read back and dropped)
 *   head P      the difference alone: the head on the last of P random final-norm rows (gathered) against the
 *               head on all P rows and their last row sliced, both read back; per call, timed over 10 calls
 *
 * Each round draws a new random prompt and runs both paths on it, old first in even rounds and new first in
 * odd ones, so a drifting load affects them alike; CPU ms (process.cpuUsage: on a shared machine wall time
 * also counts the waits for a core) and wall ms per call, medians over rounds; the ratio is the median over
 * rounds of new ÷ old CPU ms (each round's pair ran back to back on the same prompt, so a load that drifts
 * between rounds moves both). Every round also compares the outputs: the logits (prefill) and routing bit for bit.
 * A full garbage collection runs before each timed call (not timed): the old trace leaves [T, V] logits on the
 * JS heap, and V8 collects them on helper threads, whose CPU time process.cpuUsage would bill to whatever
 * runs next (the other path, the next case).
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEModel } from '../kernel-lib/model/model';
import type { LayerRouting } from '../kernel-lib/model/moe';
import { mulberry32 } from '../kernel-lib/util/random';
import { legacyPrefill } from './head-legacy';
import { collectGarbage, median } from './train-turns';

export interface PrefillHeadRow {
  what: 'prefill' | 'trace' | 'head';
  tokens: number;
  /** Median CPU ms per call, old and new path. */
  cpuMs: { old: number; new: number };
  /** Median wall ms per call. */
  wallMs: { old: number; new: number };
  /** Median over rounds of the round's new ÷ old CPU ms. */
  cpuRatio: number;
  /** Lower and upper quartile of the rounds' new ÷ old CPU ms. */
  cpuRatioQuartiles: [number, number];
  /** Rounds whose outputs (logits and routing) were bit-identical, of all rounds. */
  identical: number;
}

export interface PrefillHeadBench {
  rounds: number;
  rows: PrefillHeadRow[];
}

const cpuMs = (from: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1000;
};

/** Bitwise equality of two float or int arrays (NaN payloads aside: equal NaNs count as equal). */
function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function sameRouting(a: readonly LayerRouting[], b: readonly LayerRouting[]): boolean {
  return a.length === b.length && a.every((l, i) => sameBits(l.experts, b[i].experts) && sameBits(l.weights, b[i].weights) && sameBits(l.probs, b[i].probs) && sameBits(l.logits, b[i].logits));
}

interface Timed<R> {
  out: R;
  cpu: number;
  wall: number;
}

function timed<R>(f: () => R): Timed<R> {
  collectGarbage();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = f();
  return { out, cpu: cpuMs(c0), wall: performance.now() - t0 };
}

/** Calls per timed sample of the head alone (one takes a fraction of a millisecond). */
const HEAD_CALLS = 10;

export function benchPrefillHead(model: MoEModel, o: { quick: boolean; rounds?: number; log: (msg: string) => void }): PrefillHeadBench {
  const c = model.config;
  const rounds = o.rounds ?? (o.quick ? 2 : 25);
  const rand = mulberry32(23);
  const prompt = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * c.vocabSize));
  const cases: Array<{ what: PrefillHeadRow['what']; tokens: number }> = [
    { what: 'prefill', tokens: 64 },
    { what: 'prefill', tokens: 200 },
    { what: 'trace', tokens: 200 },
    { what: 'head', tokens: 64 },
    { what: 'head', tokens: 200 },
  ].filter((k) => k.tokens <= c.maxPositions) as Array<{ what: PrefillHeadRow['what']; tokens: number }>;
  o.log(`prefill head: ${cases.map((k) => `${k.what} ${k.tokens}`).join(', ')}; ${rounds} rounds, old and new taking turns`);
  const rows = cases.map(({ what, tokens }) => {
    const samples = { old: { cpu: [] as number[], wall: [] as number[] }, new: { cpu: [] as number[], wall: [] as number[] } };
    let identical = 0;
    let before = 0;
    for (let r = -1; r < rounds; r++) {
      const ids = prompt(tokens);
      const states = what === 'head' ? tf.tensor2d(Float32Array.from({ length: tokens * c.hiddenSize }, () => 2 * rand() - 1), [tokens, c.hiddenSize]) : null;
      const run = (which: 'old' | 'new'): Timed<{ logits: Float32Array; routing: LayerRouting[] }> => {
        if (states) {
          const last = (): Float32Array => {
            let out!: Float32Array; // set inside the tidy, not returned from it (tidy would walk a returned array's every element)
            tf.tidy(() => {
              const row = which === 'old'
                ? tf.slice(model.head(states), [tokens - 1, 0], [1, c.vocabSize])
                : model.head(tf.gather(states, tf.tensor1d([tokens - 1], 'int32')) as tf.Tensor2D);
              out = row.dataSync() as Float32Array;
            });
            return out;
          };
          const t = timed(() => {
            for (let i = 0; i < HEAD_CALLS - 1; i++) last();
            return { logits: last(), routing: [] };
          });
          return { ...t, cpu: t.cpu / HEAD_CALLS, wall: t.wall / HEAD_CALLS };
        }
        if (what === 'trace') {
          return timed(() => (which === 'old' ? model.forward([ids], { capture: 'routing' }) : model.forwardRows([ids], [], { capture: 'routing' })));
        }
        const t = timed(() => (which === 'old' ? legacyPrefill(model, ids, 'none') : model.prefill(ids, 'none'))); // as generation prefills
        t.out.cache.dispose();
        return t;
      };
      const order: Array<'old' | 'new'> = r % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
      const got = new Map(order.map((w) => [w, run(w)] as const));
      const a = got.get('old')!;
      const b = got.get('new')!;
      states?.dispose();
      if (r < 0) {
        before = tf.memory().numTensors; // the first round warms both paths (the model keeps causal masks per length)
        continue;
      }
      for (const w of ['old', 'new'] as const) {
        samples[w].cpu.push(got.get(w)!.cpu);
        samples[w].wall.push(got.get(w)!.wall);
      }
      const logitsSame = what === 'trace' ? b.out.logits.length === 0 : sameBits(a.out.logits, b.out.logits);
      if (logitsSame && sameRouting(a.out.routing, b.out.routing)) identical++;
    }
    const leaked = tf.memory().numTensors - before;
    if (leaked !== 0) throw new Error(`bench prefill head: ${what} ${tokens} left ${leaked} tensors behind`);
    const ratios = samples.new.cpu.map((x, i) => x / samples.old.cpu[i]).sort((x, y) => x - y);
    const q = (f: number) => ratios[Math.min(ratios.length - 1, Math.floor(f * ratios.length))];
    return {
      what, tokens, cpuMs: { old: median(samples.old.cpu), new: median(samples.new.cpu) }, wallMs: { old: median(samples.old.wall), new: median(samples.new.wall) },
      cpuRatio: median(ratios), cpuRatioQuartiles: [q(0.25), q(0.75)] as [number, number], identical,
    };
  });
  return { rounds, rows };
}

export function formatPrefillHead(b: PrefillHeadBench): string {
  const f = (x: number): string => x.toFixed(1);
  const lines = [
    `the LM head only on the rows read, old → new (medians of ${b.rounds} rounds; ratio: median of each round's pair; prefill: head on the last row; trace: no head; head: the head alone, all rows → last row)`,
    '',
    '| path | tokens | CPU ms | wall ms | CPU new ÷ old (quartiles) | bit-identical |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...b.rows.map((r) => `| ${r.what} | ${r.tokens} | ${f(r.cpuMs.old)} → ${f(r.cpuMs.new)} | ${f(r.wallMs.old)} → ${f(r.wallMs.new)} | ${r.cpuRatio.toFixed(2)}× (${r.cpuRatioQuartiles.map((x) => x.toFixed(2)).join('–')}) | ${r.identical} / ${b.rounds} |`),
    '',
  ];
  return lines.join('\n');
}
