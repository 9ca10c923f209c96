/**
 * Part of the `prefill` section of `switchboard bench`: the LM head only on the rows a host path reads, new
 * against old in the same run on the same prompts.
 *
 *   prefill P   MoEModel.prefill (the head on the last position) against the prefill before (the head over
 *               every position, its last row read; bench/head-legacy.ts legacyPrefill), at P = 64 and 200
 *   trace P     the routing-only forward of Session.trace (forwardRows with no rows: no head at all) against
 *               the full forward it replaced (forward, every row's logits read back and dropped)
 *
 * Each round draws a new random prompt and runs both paths on it, old first in even rounds and new first in
 * odd ones, so a drifting load affects them alike; CPU ms (process.cpuUsage: on a shared machine wall time
 * also counts the waits for a core) and wall ms per call, medians over rounds; ratio = new ÷ old of the
 * medians. Every round also compares the outputs: the logits (prefill) and routing bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEModel } from '../kernel-lib/model/model';
import type { LayerRouting } from '../kernel-lib/model/moe';
import { mulberry32 } from '../kernel-lib/util/random';
import { legacyPrefill } from './head-legacy';
import { median } from './train-turns';

export interface PrefillHeadRow {
  what: 'prefill' | 'trace';
  tokens: number;
  /** Median CPU ms per call, old and new path. */
  cpuMs: { old: number; new: number };
  /** Median wall ms per call. */
  wallMs: { old: number; new: number };
  /** new ÷ old of the median CPU ms. */
  cpuRatio: number;
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
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = f();
  return { out, cpu: cpuMs(c0), wall: performance.now() - t0 };
}

export function benchPrefillHead(model: MoEModel, o: { quick: boolean; rounds?: number; log: (msg: string) => void }): PrefillHeadBench {
  const c = model.config;
  const rounds = o.rounds ?? (o.quick ? 2 : 15);
  const rand = mulberry32(23);
  const prompt = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * c.vocabSize));
  const cases: Array<{ what: PrefillHeadRow['what']; tokens: number }> = [
    { what: 'prefill', tokens: 64 },
    { what: 'prefill', tokens: 200 },
    { what: 'trace', tokens: 200 },
  ].filter((k) => k.tokens <= c.maxPositions) as Array<{ what: PrefillHeadRow['what']; tokens: number }>;
  o.log(`prefill head: ${cases.map((k) => `${k.what} ${k.tokens}`).join(', ')}; ${rounds} rounds, old and new taking turns`);
  const before = tf.memory().numTensors;
  const rows = cases.map(({ what, tokens }) => {
    const samples = { old: { cpu: [] as number[], wall: [] as number[] }, new: { cpu: [] as number[], wall: [] as number[] } };
    let identical = 0;
    for (let r = -1; r < rounds; r++) {
      const ids = prompt(tokens);
      const run = (which: 'old' | 'new'): Timed<{ logits: Float32Array; routing: LayerRouting[] }> => {
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
      if (r < 0) continue; // the first round warms both paths (causal masks, kernels)
      for (const w of ['old', 'new'] as const) {
        samples[w].cpu.push(got.get(w)!.cpu);
        samples[w].wall.push(got.get(w)!.wall);
      }
      const logitsSame = what === 'trace' ? b.out.logits.length === 0 : sameBits(a.out.logits, b.out.logits);
      if (logitsSame && sameRouting(a.out.routing, b.out.routing)) identical++;
    }
    const cpu = { old: median(samples.old.cpu), new: median(samples.new.cpu) };
    return { what, tokens, cpuMs: cpu, wallMs: { old: median(samples.old.wall), new: median(samples.new.wall) }, cpuRatio: cpu.new / cpu.old, identical };
  });
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`bench prefill head: ${leaked} tensors left behind`);
  return { rounds, rows };
}

export function formatPrefillHead(b: PrefillHeadBench): string {
  const f = (x: number): string => x.toFixed(1);
  const lines = [
    `the LM head only on the rows read, old → new (median of ${b.rounds} rounds; prefill: head on the last row; trace: no head)`,
    '',
    '| path | tokens | CPU ms | wall ms | CPU new ÷ old | bit-identical |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...b.rows.map((r) => `| ${r.what} | ${r.tokens} | ${f(r.cpuMs.old)} → ${f(r.cpuMs.new)} | ${f(r.wallMs.old)} → ${f(r.wallMs.new)} | ${r.cpuRatio.toFixed(2)}× | ${r.identical} / ${b.rounds} |`),
    '',
  ];
  return lines.join('\n');
}
