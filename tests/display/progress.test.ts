import { progress, Progress } from '../../kernel-lib/display/progress';
import { TextTarget } from '../../kernel-lib/display/env';
import { RecordingTarget } from './sink';

function textProgress(total: number, opts: { textEveryPercent?: number; textEverySeconds?: number } = {}) {
  const lines: string[] = [];
  const bar = progress(total, { label: 'build', display: new TextTarget((s) => lines.push(s)), textEverySeconds: 3600, ...opts });
  return { bar, lines };
}

test('text fallback: a line every 10% by default, and always the last one', () => {
  const { bar, lines } = textProgress(1000);
  for (let i = 1; i <= 1000; i++) bar.update(i);
  expect(lines).toHaveLength(11); // 0.1%, then every further 10%, then 100% (the final line)
  expect(lines[0]).toMatch(/^build 1\/1000 \(0%\) · /);
  expect(lines[lines.length - 1]).toMatch(/^build 1000\/1000 \(100%\) · \d+\.\ds\n$/);
  const pcts = lines.map((l) => Number(/\((\d+)%\)/.exec(l)?.[1]));
  for (let i = 1; i < pcts.length; i++) expect(pcts[i] - pcts[i - 1]).toBeGreaterThanOrEqual(i === pcts.length - 1 ? 0 : 10);
});

test('text fallback: textEveryPercent, notes, and finish() when stopped early', () => {
  const { bar, lines } = textProgress(10, { textEveryPercent: 50 });
  for (let i = 1; i <= 7; i++) bar.tick(1, { loss: 1 / i });
  bar.finish('stopped');
  bar.update(10); // ignored after finish
  expect(lines.map((l) => /\d+\/10/.exec(l)?.[0])).toEqual(['1/10', '6/10', '7/10']);
  expect(lines[1]).toContain('loss 0.1667');
  expect(lines[2]).toMatch(/stopped\n$/);
});

test("onStep takes session.train's events: step of totalSteps, loss and learning rate", () => {
  const { bar, lines } = textProgress(4, { textEveryPercent: 1 });
  for (let step = 1; step <= 4; step++) bar.onStep({ step, totalSteps: 4, loss: 5 - step, lr: 0.001 });
  expect(lines).toHaveLength(4);
  expect(lines[3]).toMatch(/^build 4\/4 \(100%\) · .* · loss 1 · lr 0\.001\n$/);
});

test('notebook: one area updated in place, throttled, the final state always drawn', () => {
  const sink = new RecordingTarget();
  const bar = new Progress(5000, { display: sink, minIntervalMs: 60_000 });
  for (let i = 1; i <= 5000; i++) bar.update(i);
  expect(sink.shown).toHaveLength(0);
  expect(sink.areas).toHaveLength(1);
  const updates = sink.areas[0];
  expect(updates).toHaveLength(2); // the first, then (all others inside the interval) the final one
  expect(bar.draws).toBe(2);
  expect(updates[1].html).toContain('width:100.0%');
  expect(updates[1].text).toMatch(/^5000\/5000 \(100%\)/);
});

test('notebook: a trailing redraw shows the last state when updates pause', async () => {
  const sink = new RecordingTarget();
  const bar = new Progress(10, { display: sink, minIntervalMs: 30 });
  bar.update(1);
  bar.update(2);
  bar.update(3);
  expect(sink.areas[0]).toHaveLength(1);
  await new Promise((r) => setTimeout(r, 80));
  expect(sink.areas[0]).toHaveLength(2);
  expect(sink.areas[0][1].text).toMatch(/^3\/10/);
});

test('a bad total is refused', () => {
  expect(() => progress(-1)).toThrow('progress total must be a finite number ≥ 0, got -1');
});
