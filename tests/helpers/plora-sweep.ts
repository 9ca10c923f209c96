/**
 * A hand-made sweep of notebook 01 (issue #18) for the seeds and results tests: 4 layers, the numbers
 * chosen so every summary is known by hand (tests/papers/plora-seeds.test.ts works them out).
 */
import * as plora from '../../kernel-lib/papers/redundancy-aware-moe-plora';
import type { RunEval, Sweep } from '../../kernel-lib/papers/redundancy-aware-moe-plora';

const L = 4;
export function sweepRun(variant: 'plora' | 'lora', arm: plora.Arm, seed: number, o: { ppl: number; delta?: number; eca?: number; excl?: number[]; diffs?: number[]; nll?: number }): RunEval {
  const diffs = o.diffs ?? [0.1, 0.2, 0.0, 0.1];
  const base = 100;
  return {
    name: plora.runName({ variant, arm, seed }),
    variant,
    arm,
    seed,
    train_wall_time_s: 1100,
    suite: { perplexity: o.ppl, scores: { lastWord: 10, shuffled: 60, continuation: 30 }, average: 33.333, passages: 200 },
    averageDelta: o.delta ?? -1,
    textVocabPerplexity: o.ppl * 0.8,
    perplexityChangePercent: (100 * (o.ppl - base)) / base,
    eca: Array(L).fill(o.eca ?? 0.3),
    exclusivity: o.excl ?? [0.5, 0.1, 0.1, 0.4],
    probe: { own: o.nll ?? 4, shuffled: 4.2, gap: 0.2, ownBetterFraction: 0.7 },
    clipT: { own: 0.5, shuffled: 0.4, captions: diffs.length, difference: diffs.reduce((a, b) => a + b, 0) / diffs.length, standardError: 0.04, ownBetterFraction: 0.75 },
    clipTDiffs: diffs,
  };
}

export function handMadeSweep(): Sweep {
  return {
    notebook: plora.NOTEBOOK,
    date: '2026-12-05T00:00:00.000Z',
    protocol: plora.FULL_PROTOCOL,
    base: { perplexity: 100, scores: { lastWord: 10, shuffled: 62, continuation: 31 }, average: 34.333, passages: 200 },
    before: { eca: [0.5, 0.4, 0.4, 0.4], exclusivity: [0.1, 0.1, 0.1, 0.1] },
    runs: [
      // PLoRA paper arm: perplexity 200, 220, 240 (mean 220, s.e. 20/√3·… = 11.547), Δ average −1, −2, −3
      sweepRun('plora', 'paper', 0, { ppl: 200, delta: -1, diffs: [0.1, 0.2, 0.0, 0.1] }),
      sweepRun('plora', 'paper', 1, { ppl: 220, delta: -2, diffs: [0.3, 0.0, 0.2, 0.1] }),
      sweepRun('plora', 'paper', 2, { ppl: 240, delta: -3, diffs: [0.2, 0.1, 0.1, 0.1] }),
      sweepRun('lora', 'paper', 0, { ppl: 300, delta: -5 }),
      sweepRun('lora', 'paper', 1, { ppl: 310, delta: -6 }),
      sweepRun('lora', 'paper', 2, { ppl: 320, delta: -7 }),
      sweepRun('plora', 'frozen', 0, { ppl: 100.5, delta: 0, nll: 4.5 }),
      // paper rise 120: routers 100 + 18 (share 0.15), experts 100 + 96 (share 0.8)
      sweepRun('plora', 'routers', 0, { ppl: 118 }),
      sweepRun('plora', 'experts', 0, { ppl: 196 }),
      sweepRun('plora', 'replay', 0, { ppl: 104 }),
    ],
    init: [
      { seed: 0, gw: [[0, 9], [10, 6], [50, 5], [150, 4]], mean: [[0, 9], [10, 7], [50, 5.5], [150, 4]] },
      { seed: 1, gw: [[0, 9], [10, 6], [50, 5]], mean: [[0, 9], [10, 6.5], [50, 5.5]] },
      { seed: 2, gw: [[0, 9], [10, 6], [50, 5]], mean: [[0, 9], [10, 6.2], [50, 5.4]] },
    ],
  };
}

