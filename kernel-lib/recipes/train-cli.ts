/**
 * `npm run train:<name>`: trains one shipped model by its recipe, resumably (Ctrl-C and run again to
 * continue), printing progress. Run directories live in .cache/runs/<name>/.
 *   node dist/kernel-lib/recipes/train-cli.js text-moe-small|mm-moe-small [--steps N] [--out DIR] [--fresh]
 * mm-moe-small starts from data/checkpoints/{text-moe-small, vqvae-emoji, clip-emoji}.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { trainTextMoeSmall, evaluateTextMoeSmall, RecipeOptions } from './text-moe-small';
import { trainMmMoeSmall, evaluateMmMoeSmall } from './mm-moe-small';
import type { TrainEvent } from '../train/trainer';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function progressPrinter(name: string): (e: TrainEvent) => void {
  let last = 0;
  return (e) => {
    const now = Date.now();
    if (now - last < 5000 && e.step !== e.totalSteps && e.step !== 1) return;
    last = now;
    const eta = ((e.elapsedMs / e.step) * (e.totalSteps - e.step)) / 1000;
    process.stderr.write(
      `[${name}] step ${e.step}/${e.totalSteps}  loss ${e.lmLoss.toFixed(3)}  aux ${e.auxLoss.toFixed(3)}  lr ${e.lr.toExponential(2)}  ` +
        `${e.tokensPerSec.toFixed(0)} tok/s  ETA ${Math.round(eta / 60)} min\n`,
    );
  };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { steps: { type: 'string' }, out: { type: 'string' }, fresh: { type: 'boolean' }, 'eval-tokens': { type: 'string' }, 'eval-only': { type: 'boolean' } },
  });
  const name = positionals[0];
  const ck = (n: string) => path.join(ROOT, 'data', 'checkpoints', n);
  const recipes: Record<string, (o: RecipeOptions) => Promise<Record<string, unknown>>> = {
    'text-moe-small': trainTextMoeSmall,
    'mm-moe-small': (o) => trainMmMoeSmall({ ...o, baseDir: ck('text-moe-small'), vqvaeDir: ck('vqvae-emoji'), clipDir: ck('clip-emoji') }),
  };
  const recipe = recipes[name];
  if (!recipe) {
    process.stderr.write(`train: unknown model '${name}'; expected one of ${Object.keys(recipes).join(', ')}\n`);
    return 2;
  }
  if (values['eval-only']) {
    const evals: Record<string, (dir: string) => Promise<Record<string, unknown>>> = {
      'text-moe-small': (dir) => evaluateTextMoeSmall(dir),
      'mm-moe-small': (dir) => evaluateMmMoeSmall(dir, { vqvaeDir: ck('vqvae-emoji'), clipDir: ck('clip-emoji'), baseDir: ck('text-moe-small') }),
    };
    const m = await evals[name](values.out ?? ck(name));
    process.stdout.write(JSON.stringify(m, null, 1) + '\n');
    return 0;
  }
  const runDir = path.join(ROOT, '.cache', 'runs', name);
  if (values.fresh) fs.rmSync(runDir, { recursive: true, force: true });
  const steps = values.steps === undefined ? undefined : Number(values.steps);
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1)) {
    process.stderr.write(`train: --steps must be a positive integer, got '${values.steps}'\n`);
    return 2;
  }
  const metrics = await recipe({
    outDir: values.out ?? path.join(ROOT, 'data', 'checkpoints', name),
    runDir,
    steps,
    evalTokens: values['eval-tokens'] === undefined ? undefined : Number(values['eval-tokens']),
    onProgress: progressPrinter(name),
  });
  process.stdout.write(JSON.stringify(metrics, null, 1) + '\n');
  return 0;
}

main(process.argv.slice(2)).then(
  (c) => (process.exitCode = c),
  (e) => {
    process.stderr.write(`train: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
