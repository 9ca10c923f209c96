#!/usr/bin/env node
'use strict';
/**
 * `node scripts/minigpt5-story-probe.js [--stories N] [--runs DIR]`: is Table 6's low MiniGPT-5 CLIP-I made by stage 2?
 * Draws the last frame of the first N held-out test stories under every context (Table 6's items, noise and γ, as
 * sb.minigpt5.heldOutFirst gives them) with the STAGE-1 weights of full at seed 0 (voken rows and mapper, no LoRA:
 * minigpt5-s1-full-seed0) and prints, per context, its mean CLIP-I beside what minigpt5-s2-full-seed0 recorded on the
 * same items, and the two-stage baseline's with each LM. Reads the shipped runs (data/checkpoints/minigpt5, the two
 * live runs ship their weights) or --runs DIR (e.g. .cache/minigpt5). About 4 min for 64 stories beside two trainings.
 * Needs `npm run build` (dist/).
 */
const path = require('path');
const { parseArgs } = require('util');

const REPO = path.join(__dirname, '..');
const { values } = parseArgs({ options: { stories: { type: 'string', default: '64' }, runs: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  process.stdout.write('usage: node scripts/minigpt5-story-probe.js [--stories N] [--runs DIR]\n');
  process.exit(0);
}
const N = Number(values.stories);
if (!Number.isInteger(N) || N < 1) {
  console.error(`minigpt5-story-probe: --stories must be a whole number ≥ 1, got '${values.stories}'`);
  process.exit(1);
}
const sb = require(path.join(REPO, 'dist', 'kernel-lib'));
const checkpointDir = (name) => path.join(REPO, 'data', 'checkpoints', name);
const RUNS = path.resolve(values.runs ?? checkpointDir(sb.minigpt5.SHIPPED_FOLDER));
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main() {
  const [s1, s2] = sb.minigpt5.LIVE_RUNS.map((r) => path.join(RUNS, r));
  await sb.initBackend();
  const store = await sb.ensureData();
  const vq = sb.VQVAE.load(checkpointDir('vqvae-emoji'));
  const clip = sb.ClipModel.load(checkpointDir('clip-emoji'));
  const checker = sb.SceneChecker.fromStore(store);
  const tools = { store, clip, checker, encode: (imgs) => vq.encodeImages(imgs) };
  const rec = sb.minigpt5.readEval(s2);
  const m = sb.minigpt5.readRunMetrics(s1);
  const ldm = sb.LatentDiffusion.load(checkpointDir(m.decoder));
  const { session, mapper } = await sb.minigpt5.loadStage(s1, { baseDir: checkpointDir(m.base) });
  const first = { scenes: 0, stories: N, narration: 0 };
  const t0 = Date.now();
  try {
    const now = await sb.minigpt5.evaluateStage({ session, mapper, ldm }, { name: `${m.name} on stories`, stage: 2, arm: 'full', seed: m.seed }, tools, sb.minigpt5.heldOutFirst(rec, first));
    const a = sb.minigpt5.firstScores(now, first);
    const b = sb.minigpt5.firstScores(rec, first);
    console.log(`The last frame of the first ${N} held-out test stories, mean CLIP-I (${((Date.now() - t0) / 1000).toFixed(0)} s; runs from ${RUNS})`);
    console.log('context      vokens, stage-1 weights  vokens, stage 2 (recorded)  two-stage, stage-1 LM  two-stage, stage-2 LM');
    for (const c of sb.minigpt5.CONTEXTS) {
      const row = [mean(a.contexts.minigpt5[c]), mean(b.contexts.minigpt5[c]), mean(a.contexts.twoStage[c]), mean(b.contexts.twoStage[c])];
      console.log(`${c.padEnd(12)} ${row.map((x, i) => x.toFixed(4).padStart([23, 27, 22, 22][i])).join('  ')}`);
    }
  } finally {
    session.dispose();
    mapper?.dispose();
    clip.dispose();
    checker.dispose();
    vq.dispose();
  }
}

main().catch((e) => {
  console.error(`minigpt5-story-probe: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
