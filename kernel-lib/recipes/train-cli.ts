/**
 * `npm run train:<name>`: trains one shipped model by its recipe, resumably (Ctrl-C and run again to
 * continue), printing progress. Run directories live in .cache/runs/<name>/.
 *   node dist/kernel-lib/recipes/train-cli.js text-moe-small|mm-moe-small|s1-plora|s1-lora|s1-init-ablation
 *        [--steps N] [--out DIR] [--fresh] [--conditioning-steps N (mm)] [--lowres-steps N (s1)]
 * mm-moe-small starts from data/checkpoints/{text-moe-small, vqvae-emoji, clip-emoji}; the s1-* recipes
 * (the PLoRA paper, notebooks/01-…) from text-moe-small and vqvae-emoji (--steps = high-res steps).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { trainTextMoeSmall, evaluateTextMoeSmall, RecipeOptions } from './text-moe-small';
import { trainMmMoeSmall, evaluateMmMoeSmall } from './mm-moe-small';
import { trainS1Variant } from './plora-paper';
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

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got '${v}'`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { steps: { type: 'string' }, out: { type: 'string' }, fresh: { type: 'boolean' }, 'eval-tokens': { type: 'string' }, 'eval-only': { type: 'boolean' }, 'conditioning-steps': { type: 'string' }, 'lowres-steps': { type: 'string' } },
  });
  const name = positionals[0];
  const ck = (n: string) => path.join(ROOT, 'data', 'checkpoints', n);
  const recipes: Record<string, (o: RecipeOptions) => Promise<Record<string, unknown>>> = {
    'text-moe-small': trainTextMoeSmall,
    'mm-moe-small': (o) => trainMmMoeSmall({ ...o, conditioningSteps: positiveInt(values['conditioning-steps'], '--conditioning-steps'), baseDir: ck('text-moe-small'), vqvaeDir: ck('vqvae-emoji'), clipDir: ck('clip-emoji') }),
  };
  const progress = progressPrinter(name);
  const s1 = { baseDir: ck('text-moe-small'), vqvaeDir: ck('vqvae-emoji'), lowResSteps: positiveInt(values['lowres-steps'], '--lowres-steps'), onProgress: progress };
  for (const variant of ['plora', 'lora'] as const) {
    recipes[`s1-${variant}`] = (o) => trainS1Variant({ ...s1, variant, outDir: o.outDir, runDir: o.runDir, highResSteps: o.steps });
  }
  // the initialisation ablation: the first low-res steps with mean-initialised rows (not shipped; its
  // metrics go to notebooks/results/, beside the notebook that reads them)
  recipes['s1-init-ablation'] = async (o) => {
    const m = await trainS1Variant({ ...s1, variant: 'plora', init: 'mean', lowResOnly: true, outDir: o.outDir, runDir: o.runDir });
    const file = values.out ? path.join(values.out, 'metrics.json') : path.join(ROOT, 'notebooks', 'results', 's1-init-ablation-mean.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(m, null, 1) + '\n');
    return m;
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
    const evaluate = evals[name];
    if (!evaluate) {
      process.stderr.write(`train: --eval-only is for ${Object.keys(evals).join(', ')}; the ${name} recipe evaluates as it trains (metrics.json)\n`);
      return 2;
    }
    const m = await evaluate(values.out ?? ck(name));
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
