/**
 * promptWidget inside a real tslab kernel: the output is text/html via tslab's display, the bundle is
 * inlined in the first output only. Runs the compiled library in dist/ (set-up keeps it current).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { executeNotebook, REPO, writeNotebook } from '../helpers/notebook';

const DIST = path.join(REPO, 'dist', 'kernel-lib');

test('in a tslab notebook, two widgets: the first output carries the bundle, the second only starts it', async () => {
  if (!fs.existsSync(path.join(DIST, 'server', 'widget.js'))) throw new Error(`${DIST}/server/widget.js is missing; run node scripts/setup.js`);
  fs.mkdirSync(path.join(REPO, '.cache'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(REPO, '.cache', 'nb-widget-'));
  try {
    const nb = path.join(dir, 'widget.ipynb');
    writeNotebook(nb, [
      `import * as sb from ${JSON.stringify(path.relative(dir, DIST))};`,
      [
        'const bpe = sb.ByteLevelBPE.train(["an emoji of a tiger", "a red heart"], { vocabSize: 280 });',
        'const tok = sb.MultimodalTokenizer.createTextOnly(bpe).extendWithImages({ numImageCodes: 32, grid: { height: 4, width: 4 }, numVokens: 2 });',
        'const s = await sb.Session.create(tok, { preset: "tiny" });',
        'const a = await sb.promptWidget(s);',
        'const b = await sb.promptWidget(s);',
        'console.log(`same server: ${a.server === b.server}`);',
      ].join('\n'),
    ]);
    const res = await executeNotebook(nb, { timeoutS: 120 });
    const outputs = res.notebook.cells[1].outputs ?? [];
    const html = outputs.filter((o) => o.output_type === 'display_data').map((o) => String((o.data as Record<string, unknown>)['text/html']));
    expect(html).toHaveLength(2);
    expect(html[0]).toContain('SwitchboardWidget');
    expect(html[0].length).toBeGreaterThan(10_000); // the bundle
    expect(html[1].length).toBeLessThan(2_000); // a reference to it
    expect(res.cells[1].stdout).toContain('same server: true');
    expect(res.cells[1].stdout).not.toContain('not running in a tslab notebook');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
