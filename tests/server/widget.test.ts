/** promptWidget: one server per kernel, the bundle inlined once per page, a URL to print outside tslab. */
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { promptWidget, loadBundle, widgetServer } from '../../kernel-lib/server/widget';
import { scriptSafe } from '../../kernel-lib/server/page';
import { TestClient } from './client';

let s: Session;
beforeAll(async () => {
  await useBackend();
  s = await tinySession();
});
afterAll(async () => {
  await (await widgetServer()).close();
  s.dispose();
});

test('the first output inlines the bundle, later ones reuse it; both talk to the one kernel server', async () => {
  const outputs: string[] = [];
  const display = (html: string) => outputs.push(html);
  const bundle = loadBundle();
  const a = await promptWidget(s, { display, prompt: 'an emoji of a tiger', params: { maxNewTokens: 8 } });
  const b = await promptWidget(s, { display });
  expect(a.server).toBe(b.server);
  expect(a.session).not.toBe(b.session);
  expect(outputs).toHaveLength(2);
  expect(outputs[0]).toContain(scriptSafe(bundle));
  expect(outputs[1]).not.toContain(scriptSafe(bundle).slice(0, 200));
  expect(outputs[1].length).toBeLessThan(2000);
  for (const html of outputs) {
    // The only </script> tags are the ones we opened: the bundle cannot end its element early.
    expect(html.match(/<\/script/gi)?.length).toBe(html.match(/<script>/gi)?.length);
    expect(html).toContain(`"port":${a.server.port}`);
    expect(html).toContain(`"token":"${a.server.token}"`);
  }
  expect(outputs[0]).toContain('"prompt":"an emoji of a tiger","maxNewTokens":8');
  // A third display target (another page) gets the bundle again.
  const other: string[] = [];
  await promptWidget(s, { display: (h) => other.push(h) });
  expect(other[0]).toContain(scriptSafe(bundle));

  const res = await fetch(`http://127.0.0.1:${a.server.port}/widget.js`);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe(bundle);

  const c = await TestClient.hello(a.server, a.session);
  a.close();
  expect((await c.closed).code).toBe(4004);
});

test('outside tslab it prints the stand-alone page URL instead of displaying', async () => {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const w = await promptWidget(s);
    expect(w.pageUrl).toBe(`http://127.0.0.1:${w.server.port}/#session=${w.session}&token=${w.server.token}`);
    expect(log).toHaveBeenCalledWith(expect.stringContaining(w.pageUrl));
    expect(log.mock.calls[0][0]).toContain('not running in a tslab notebook');
    w.close();
  } finally {
    log.mockRestore();
  }
});

test('a closed kernel server is replaced by a fresh one on the next call', async () => {
  const a = await widgetServer();
  await a.close();
  const b = await widgetServer();
  expect(b).not.toBe(a);
  expect(b.closed).toBe(false);
  expect(await widgetServer()).toBe(b);
});
