#!/usr/bin/env node
'use strict';
/**
 * `node scripts/mumu-conditioning-probe.js [OUT.json] [--scenes N] [--seeds K] [--draws M]`: does a shipped MUMU
 * run's conditioning steer the decoder? (sb.mumu.conditioningProbe on the first N val prompts, the split the
 * recipe probes, with K noise seeds) for the live runs mumu t64, t1, no-augment t64 and caption-only (seed 0),
 * and the decoder alone (ldm-emoji's own caption encoder, no LoRA). Then the CFG-4 drawings (25 DDIM steps) of
 * the first M val prompts, every prompt from the SAME noise (seed 0, drawn one at a time): the pixel mean abs
 * difference between prompt i's drawing and prompt (i + M/2)'s, against the same prompt drawn from seed 1's
 * noise (how much the noise alone moves a drawing). Needs `npm run build` (dist/).
 */
const fs = require('fs');
const path = require('path');
const sb = require('../dist/kernel-lib');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const out = args[0] && !args[0].startsWith('--') ? args[0] : null;
const SCENES = opt('--scenes', 64);
const SEEDS = opt('--seeds', 4);
const DRAWS = opt('--draws', 16);
const checkpointDir = (name) => path.join(__dirname, '..', 'data', 'checkpoints', name);
const RUNS = ['mumu-mumu-t64-seed0', 'mumu-caption-only-seed0', 'mumu-no-augment-t64-seed0', 'mumu-mumu-t1-seed0'];

const meanAbs = (a, b) => {
  let s = 0;
  for (let i = 0; i < a.pixels.length; i++) s += Math.abs(a.pixels[i] - b.pixels[i]);
  return s / a.pixels.length;
};
const meanSE = (xs) => {
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  const v = xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
  return { mean: m, se: Math.sqrt(v / xs.length) };
};
const f = (x, d = 5) => x.toFixed(d);
const pm = (x) => `${x.mean >= 0 ? '+' : ''}${x.mean.toFixed(5)} ± ${x.se.toFixed(5)}`;

async function draws(run, items) {
  const one = async (it, seed) => (await sb.mumu.drawItems(run, [it], { cfgScale: 4, steps: 25, seed }))[0];
  const s0 = [];
  const s1 = [];
  for (const it of items) {
    s0.push(await one(it, 0));
    s1.push(await one(it, 1));
  }
  const h = Math.floor(items.length / 2);
  return {
    otherPrompt: meanSE(s0.map((im, i) => meanAbs(im, s0[(i + h) % items.length]))),
    otherNoise: meanSE(s0.map((im, i) => meanAbs(im, s1[i]))),
  };
}

function show(name, r, d) {
  console.log(`\n${name}  (${r.scenes} scenes × ${r.seeds.length} seeds)`);
  console.log('  band        ε own    ε shuf   ε null   own−null (±SE)         shuf−own (±SE)        | x̂0 own−null (±SE)      x̂0 shuf−own (±SE)');
  for (const b of [r.overall, ...r.bands]) {
    console.log(`  ${`${b.from}–${b.to - 1}`.padEnd(10)}  ${f(b.eps.own)}  ${f(b.eps.shuffled)}  ${f(b.eps.null)}  ${pm(b.eps.ownMinusNull).padEnd(22)} ${pm(b.eps.shuffledMinusOwn).padEnd(22)}| ${pm(b.x0.ownMinusNull).padEnd(22)} ${pm(b.x0.shuffledMinusOwn)}`);
  }
  if (d) console.log(`  CFG-4 drawings, same noise: other prompt ${d.otherPrompt.mean.toFixed(2)} ± ${d.otherPrompt.se.toFixed(2)} (0–255 per channel); same prompt, other noise ${d.otherNoise.mean.toFixed(2)} ± ${d.otherNoise.se.toFixed(2)}`);
}

(async () => {
  await sb.initBackend();
  const t0 = Date.now();
  const baseDir = checkpointDir('mm-moe-small');
  const ldmDir = checkpointDir('ldm-emoji');
  const store = await sb.ensureData();
  const vq = sb.VQVAE.load(checkpointDir('vqvae-emoji'));
  const list = sb.mumuPrompts(store, { split: 'val', seed: 0, augment: false });
  const items = sb.mumu.codeExamples(Array.from({ length: SCENES }, (_, i) => list.get(i)), sb.mumu.vqCropEncoder(vq));
  vq.dispose();
  const seeds = Array.from({ length: SEEDS }, (_, i) => i);
  const results = {};
  const measure = async (name, run) => {
    const t = Date.now();
    const probe = sb.mumu.conditioningProbe(run, items, { seeds });
    const drawn = DRAWS > 0 ? await draws(run, items.slice(0, DRAWS)) : null;
    results[name] = { probe, draws: drawn, seconds: (Date.now() - t) / 1000 };
    show(name, probe, drawn);
    console.log(`  (${results[name].seconds.toFixed(0)} s)`);
  };
  const ldm = sb.LatentDiffusion.load(ldmDir);
  await measure('ldm-emoji alone (its caption encoder)', { session: null, connector: null, ldm });
  ldm.dispose();
  for (const name of RUNS) {
    const run = await sb.mumu.loadMumu(path.join(checkpointDir('mumu'), name), { baseDir, ldmDir });
    try {
      await measure(name, run);
    } finally {
      run.dispose();
    }
  }
  console.log(`\ntotal ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (out) fs.writeFileSync(out, JSON.stringify({ scenes: SCENES, seeds, draws: DRAWS, results }, null, 1));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
