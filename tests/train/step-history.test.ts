/** A trainer's step history (train/step-history.ts): timing, a non-finite loss stops the run, resume, thinning. */
import { StepHistory, thinned } from '../../kernel-lib/train/step-history';
import type { LoopStep } from '../../kernel-lib/train/loop';

const loopStep = (step: number, loss: number): LoopStep => ({ step, totalSteps: 10, loss, lr: 1e-3, gradNorm: 1, startedAt: performance.now() - 5, cpuAtStart: process.cpuUsage() });

test('timed: the step took ≥ 5 ms of wall time (it began 5 ms ago); a NaN or infinite loss is refused by name', () => {
  const h = new StepHistory<{ step: number; elapsedMs: number }>('demo');
  const t = h.timed(loopStep(1, 2.5));
  expect(t.stepMs).toBeGreaterThanOrEqual(5);
  expect(t.stepCpuMs).toBeGreaterThanOrEqual(0);
  expect(t.elapsedMs).toBeGreaterThanOrEqual(0);
  expect(() => h.timed(loopStep(3, NaN))).toThrow('demo: the loss became NaN at step 3');
  expect(() => h.timed(loopStep(4, Infinity))).toThrow('demo: the loss became Infinity at step 4');
});

test('resume: the earlier events come back, resumedFrom is the step, the clock continues from the last elapsed time', () => {
  const h = new StepHistory<{ step: number; elapsedMs: number }>('demo');
  expect([h.resumedFrom, h.trainMs]).toEqual([0, 0]);
  h.resume([{ step: 1, elapsedMs: 1000 }, { step: 2, elapsedMs: 60_000 }], 2);
  expect(h.events.map((e) => e.step)).toEqual([1, 2]);
  expect([h.resumedFrom, h.trainMs]).toEqual([2, 60_000]);
  const { elapsedMs } = h.timed(loopStep(3, 1));
  expect(elapsedMs).toBeGreaterThanOrEqual(60_000);
  expect(elapsedMs).toBeLessThan(70_000);
});

test('thinned: every ⌈n/max⌉-th entry and the last, all of a short history', () => {
  const xs = Array.from({ length: 10 }, (_, i) => i + 1);
  expect(thinned(xs, 200)).toEqual(xs);
  expect(thinned(xs, 4)).toEqual([1, 4, 7, 10]); // every 3rd (⌈10/4⌉), and 10, which is one of them
  expect(thinned(xs, 3)).toEqual([1, 5, 9, 10]); // every 4th, the last added
  expect(thinned([], 3)).toEqual([]);
});
