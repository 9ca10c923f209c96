/**
 * In-place areas in the tslab kernel send at most one message per turn of the event loop, across every
 * area (tslab does not wait for a send to finish, and a send made while another is in flight killed the
 * kernel: zeromq EBUSY in notebook 01's long synchronous full-mode cells). Within a turn the latest state
 * of each area wins and goes out when the loop turns, area after area.
 */
import { TslabTarget } from '../../kernel-lib/display/env';
import type { TslabDisplay, TslabModule } from '../../kernel-lib/display/env';

function fakeTslab(): { module: TslabModule; sent: string[] } {
  const sent: string[] = [];
  const display = (name: string): TslabDisplay => ({ html: (s) => sent.push(`${name}:${s}`), png: () => sent.push(`${name}:png`), text: (s) => sent.push(`${name}:${s}`) });
  let n = 0;
  return { module: { display: display('show'), newDisplay: () => display(`area${n++}`) }, sent };
}
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('a synchronous burst of updates sends the first at once and only the latest after the turn', async () => {
  const { module, sent } = fakeTslab();
  const area = new TslabTarget(module).area();
  for (let i = 1; i <= 5; i++) area.update({ html: `${i}`, text: `${i}` });
  expect(sent).toEqual(['area0:1']);
  await turn();
  expect(sent).toEqual(['area0:1', 'area0:5']);
  await turn();
  expect(sent).toEqual(['area0:1', 'area0:5']); // nothing new, nothing re-sent
  area.update({ html: '6', text: '6' });
  expect(sent).toEqual(['area0:1', 'area0:5', 'area0:6']);
});

test('two areas updated in the same turn go out one turn after the other, each with its latest state', async () => {
  const { module, sent } = fakeTslab();
  const target = new TslabTarget(module);
  await turn(); // a fresh turn: nothing of the previous test is in flight
  const a = target.area();
  const b = target.area();
  a.update({ html: 'a1', text: 'a1' });
  b.update({ html: 'b1', text: 'b1' });
  b.update({ html: 'b2', text: 'b2' });
  a.update({ html: 'a2', text: 'a2' });
  expect(sent).toEqual(['area0:a1']);
  await turn();
  expect(sent).toEqual(['area0:a1', 'area1:b2']);
  await turn();
  expect(sent).toEqual(['area0:a1', 'area1:b2', 'area0:a2']);
});
