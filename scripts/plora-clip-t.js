#!/usr/bin/env node
'use strict';
/**
 * `node scripts/plora-clip-t.js`: notebook 01's "images follow captions" measurement
 * alone (issue #18, item 3), on the shipped fine-tunes: s1-plora and s1-lora each draw an image for the
 * 48 held-out scene captions mm-moe-small is evaluated on (sb.plora.variantsFollowCaptions, the same call
 * the notebook makes in full mode), CLIP-T own vs shuffled caption, paired. It then replaces only the
 * clipT fields and the "images follow captions" verdict of the committed results JSON
 * (notebooks/results/01-redundancy-aware-moe-plora.json), leaving every other number as the notebook
 * measured it; the file is checked against its shape before it is written.
 *
 * Options: --captions N (default 48), --results FILE (default the committed one), --dry-run (print only).
 * About 2 × 48 guided 64-code decodes on one core. dist/ is rebuilt first when a source changed.
 */
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const { REPO } = require('./lib/env');
const { ensureBuilt } = require('./lib/build');

async function main() {
  const { values } = parseArgs({ options: { captions: { type: 'string' }, results: { type: 'string' }, 'dry-run': { type: 'boolean' } } });
  await ensureBuilt();
  const sb = require(path.join(REPO, 'dist', 'kernel-lib'));
  const captions = values.captions === undefined ? sb.plora.EVAL_CAPTIONS : Number(values.captions);
  if (!Number.isInteger(captions) || captions < 2) throw new Error(`--captions must be an integer ≥ 2, got ${values.captions}`);
  const file = values.results ?? path.join(REPO, 'notebooks', 'results', sb.plora.RESULTS_FILE);
  // Read as plain JSON: a file from before the clipT fields grew is checked once they are replaced, below.
  const old = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(old.verdicts)) throw new Error(`${file}: no verdicts list; is it notebook 01's results JSON?`);
  const CK = path.join(REPO, 'data', 'checkpoints');
  const vq = sb.VQVAE.load(path.join(CK, 'vqvae-emoji'));
  const clip = sb.ClipModel.load(path.join(CK, 'clip-emoji'));
  const variants = { plora: await sb.plora.loadVariant(path.join(CK, 's1-plora'), 'plora'), lora: await sb.plora.loadVariant(path.join(CK, 's1-lora'), 'lora') };
  const t0 = Date.now();
  const run = await sb.plora.variantsFollowCaptions({ plora: variants.plora.session, lora: variants.lora.session }, vq, clip, {
    captions,
    onImage: (v, done, total) => process.stderr.write(`${v}: ${done}/${total} images (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`),
  });
  const clipT = { plora: sb.plora.clipTSummary(run.clipT.plora), lora: sb.plora.clipTSummary(run.clipT.lora), real: sb.plora.clipTSummary(run.clipT.real) };
  const verdict = sb.plora.captionFollowingVerdict(sb.plora.clipTDifferences(run.clipT.plora), sb.plora.clipTDifferences(run.clipT.lora));
  const others = old.verdicts.filter((v) => v.claim !== verdict.claim);
  const updated = sb.plora.checkResults({ ...old, clipT, verdicts: [...others, verdict] }, 'updated results');
  console.log(JSON.stringify({ clipT, verdict, seconds: (Date.now() - t0) / 1000 }, null, 1));
  if (!values['dry-run']) console.log(sb.writeResultsFile(file, updated) ? `wrote ${file}` : `${file} already holds these numbers`);
  for (const v of Object.values(variants)) v.session.dispose();
  vq.dispose();
  clip.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
