/** `npm run train:<name>` (switchboard train <name>): argument errors are named before any work. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const BIN = path.resolve(__dirname, '../../bin/switchboard.js');
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'train', ...args], { encoding: 'utf8', env: { ...process.env, SWITCHBOARD_BACKEND: 'wasm' } });
const lastLine = (s: string) => s.trim().split('\n').at(-1);

test('unknown recipe, bad step counts and --eval-only where there is no evaluator', () => {
  const unknown = run('gpt-5');
  expect(unknown.status).toBe(2);
  expect(lastLine(unknown.stderr)).toBe("train: unknown model 'gpt-5'; expected one of text-moe-small, mm-moe-small, s1-plora, s1-lora, s1-init-ablation, vqvae, clip, diffusion, moss, minigpt5, mumu, liquid");
  const low = run('s1-plora', '--lowres-steps', '0');
  expect(low.status).toBe(2); // was 1: checked inside the recipe; now, as every bad number, before any work
  expect(lastLine(low.stderr)).toBe("train: --lowres-steps must be a positive integer, got '0'");
  const steps = run('s1-lora', '--steps', '2.5');
  expect(steps.status).toBe(2);
  expect(lastLine(steps.stderr)).toBe("train: --steps must be a positive integer, got '2.5'");
  const evalOnly = run('s1-plora', '--eval-only');
  expect(evalOnly.status).toBe(2);
  expect(lastLine(evalOnly.stderr)).toBe('train: --eval-only is for text-moe-small, mm-moe-small; the s1-plora recipe evaluates as it trains (metrics.json)');
});

test('--arm and --seed (issue #18 mechanism arms and seeds): named, checked, and only for the s1-* recipes', () => {
  const arm = run('s1-plora', '--arm', 'attention');
  expect(arm.status).toBe(2);
  expect(lastLine(arm.stderr)).toBe("train: --arm must be one of paper, frozen, routers, experts, replay, got 'attention'");
  const seed = run('s1-lora', '--seed', '-1');
  expect(seed.status).toBe(2);
  expect(lastLine(seed.stderr)).toBe("train: --seed must be a non-negative integer, got '-1'");
  const where = run('mm-moe-small', '--arm', 'frozen');
  expect(where.status).toBe(2);
  expect(lastLine(where.stderr)).toBe('train: --arm is for s1-plora and s1-lora, not mm-moe-small');
  const seedWhere = run('text-moe-small', '--seed', '3');
  expect(seedWhere.status).toBe(2);
  expect(lastLine(seedWhere.stderr)).toBe('train: --seed is for s1-plora, s1-lora and s1-init-ablation, not text-moe-small');
  const ablationArm = run('s1-init-ablation', '--arm', 'frozen');
  expect(ablationArm.status).toBe(2);
  expect(lastLine(ablationArm.stderr)).toBe('train: --arm is for s1-plora and s1-lora, not s1-init-ablation');
  const help = run('s1-plora', '--help');
  expect(help.stdout).toContain('--arm NAME');
  expect(help.stdout).toContain('--seed K');
});

test('train moss (issue #13): --arm, --rank, --seed and the counts are named and checked before any work', () => {
  const cases: [string[], string][] = [
    [[], 'train: --arm is required: one of lora, moe-lora, moe-lora-matched, moss, sam-convlora, full'],
    [['--arm', 'conv'], "train: --arm must be one of lora, moe-lora, moe-lora-matched, moss, sam-convlora, full, got 'conv'"],
    [['--arm', 'moss', '--rank', '5'], "train: --rank must be one of 4, 8, 16, 32, got '5'"],
    [['--arm', 'moss', '--rank', 'x'], "train: --rank must be a positive integer, got 'x'"],
    [['--arm', 'full', '--rank', '8'], 'train: --rank does not apply to --arm full (full fine-tuning has no adapter)'],
    [['--arm', 'lora', '--seed', '-1'], "train: --seed must be an integer in [0, 2^32), got '-1'"],
    [['--arm', 'lora', '--steps', '0'], "train: --steps must be a positive integer, got '0'"],
    [['--arm', 'lora', '--test-items', '-2'], "train: --test-items must be a non-negative integer, got '-2'"],
    [['--arm', 'lora', '--lr', '0'], "train: --lr must be a number > 0, got '0'"],
    [['--arm', 'lora', '--ranks', '8'], 'train: unknown option --ranks'],
  ];
  for (const [args, want] of cases) {
    const r = run('moss', ...args);
    expect([r.status, lastLine(r.stderr)]).toEqual([2, want]);
  }
  const help = run('moss', '--help');
  expect(help.status).toBe(0);
  for (const flag of ['--arm NAME', '--rank R', '--seed K', '--steps N', '--batch N']) expect(help.stdout).toContain(flag);
  expect(help.stdout).toContain('moe-lora-matched');
});

test('train minigpt5 (issue #15): --stage, --arm, --seed and the counts are checked before any work; no decoder, no run', () => {
  const cases: [string[], string][] = [
    [[], 'train: --stage is required: 1 (caption → scene pairs) or 2 (stories)'],
    [['--stage', '3'], "train: --stage must be 1 or 2, got '3'"],
    [['--stage', '1', '--arm', 'gill'], "train: --arm must be one of full, no-cfg, no-cap, no-ldm, fixed-queries, decoder-only, text-only, got 'gill'"],
    [['--stage', '1', '--arm', 'text-only'], "train: the 'text-only' arm is Table 2's stage-2 baseline; stage 1 trains the vokens, which it has none of"],
    [['--stage', '1', '--from', 'x'], 'train: --from is for stage 2 of an arm with vokens (it names the stage-1 output to start from), not stage 1'],
    [['--stage', '2', '--seed', '-1'], "train: --seed must be an integer in [0, 2^32), got '-1'"],
    [['--stage', '2', '--steps', '0'], "train: --steps must be a positive integer, got '0'"],
    [['--stage', '1', '--lr', '0'], "train: --lr must be a number > 0, got '0'"],
    [['--stage', '1', '--probe-items', '-1'], "train: --probe-items must be a non-negative integer, got '-1'"],
    [['--stage', '1', '--arms', 'full'], 'train: unknown option --arms'],
  ];
  for (const [args, want] of cases) {
    const r = run('minigpt5', ...args);
    expect([r.status, lastLine(r.stderr)]).toEqual([2, want]);
  }
  // a decoder that does not exist is refused, naming what to run, before anything loads
  const missing = path.resolve(__dirname, '../../.cache/no-such-ldm');
  const r = run('minigpt5', '--stage', '1', '--decoder', missing);
  expect([r.status, lastLine(r.stderr)]).toEqual([1, `train: minigpt5: the diffusion decoder ${missing} does not exist; MiniGPT-5 trains against a frozen, trained decoder: train it first (npm run train:diffusion)`]);
  const help = run('minigpt5', '--help');
  expect(help.status).toBe(0);
  for (const flag of ['--stage S', '--arm NAME', '--seed K', '--steps N', '--from DIR', '--decoder DIR']) expect(help.stdout).toContain(flag);
  expect(help.stdout).toContain('fixed-queries');
});

test('train diffusion: --budget is named and checked, training options do not go with --eval-only, all before any work', () => {
  const cases: [string[], string][] = [
    [['--budget', 'weekend'], "train: --budget must be one of full, session, got 'weekend'"],
    [['--eval-only', '--budget', 'session'], 'train: --budget is a training option; --eval-only does not train'],
    [['--eval-only', '--skip-eval'], 'train: --skip-eval is a training option; --eval-only does not train'],
    [['--eval-only', '--run-dir', 'x'], 'train: --run-dir is a training option; --eval-only does not train'],
    [['--baseline'], 'train: --baseline goes with --eval-only'],
    [['--steps', '0'], "train: --steps must be a positive integer, got '0'"],
    [['--caption-init', 'bert'], "train: --caption-init must be one of clip-emoji, random, got 'bert'"],
    [['--probe-every', '1.5'], "train: --probe-every must be a non-negative integer, got '1.5'"],
    [['--eval-only', '--caption-init', 'random'], 'train: --caption-init is a training option; --eval-only does not train'],
    [['--loss-target', 'x0'], "train: --loss-target must be one of epsilon, v, got 'x0'"],
  ];
  for (const [args, want] of cases) {
    const r = run('diffusion', ...args);
    expect([r.status, lastLine(r.stderr)]).toEqual([2, want]);
  }
  const help = run('diffusion', '--help');
  expect(help.status).toBe(0);
  for (const flag of ['--budget NAME', '--run-dir DIR', '--caption-init NAME', '--probe-every N', '--loss-target NAME', '--skip-eval', '--eval-only', 'session (9000 steps of 32)', 'full (20000 steps of 32)', 'SWITCHBOARD_TRAIN_WORKERS']) expect(help.stdout).toContain(flag);
});

test('train mumu (issue #17): --arm, --tokens-per-crop, --seed and the counts are checked before any work; no decoder, no run', () => {
  const cases: [string[], string][] = [
    [['--arm', 'perceiver'], "train: --arm must be one of mumu, no-augment, decoder-full, decoder-frozen, caption-only, got 'perceiver'"],
    [['--tokens-per-crop', '8'], "train: --tokens-per-crop must be one of 1, 4, 16, 64, got '8'"],
    [['--tokens-per-crop', 'all'], "train: --tokens-per-crop must be a positive integer, got 'all'"],
    [['--arm', 'caption-only', '--tokens-per-crop', '4'], 'train: --tokens-per-crop does not apply to --arm caption-only (it has no crops)'],
    [['--seed', '-1'], "train: --seed must be an integer in [0, 2^32), got '-1'"],
    [['--steps', '0'], "train: --steps must be a positive integer, got '0'"],
    [['--lr', '0'], "train: --lr must be a number > 0, got '0'"],
    [['--probe-items', '-1'], "train: --probe-items must be a non-negative integer, got '-1'"],
    [['--stage', '1'], 'train: unknown option --stage'],
  ];
  for (const [args, want] of cases) {
    const r = run('mumu', ...args);
    expect([r.status, lastLine(r.stderr)]).toEqual([2, want]);
  }
  // a decoder that does not exist is refused, naming what to run, before anything loads
  const missing = path.resolve(__dirname, '../../.cache/no-such-ldm');
  const r = run('mumu', '--tokens-per-crop', '16', '--decoder', missing);
  expect([r.status, lastLine(r.stderr)]).toEqual([1, `train: mumu: the diffusion decoder ${missing} does not exist; MUMU trains a connector into a trained decoder: train it first (npm run train:diffusion)`]);
  const help = run('mumu', '--help');
  expect(help.status).toBe(0);
  for (const flag of ['--arm NAME', '--tokens-per-crop N', '--seed K', '--steps N', '--decoder DIR']) expect(help.stdout).toContain(flag);
  expect(help.stdout).toContain('caption-only');
});
