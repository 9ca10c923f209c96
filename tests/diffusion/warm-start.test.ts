/**
 * The caption embedding's warm start from clip-emoji (recipes/ldm-warm-start.ts): rows are clip-emoji's
 * text.embed.weight times one scale, with the initialisation's s.d.; refused by name for another tokenizer,
 * a missing file or another width. The run's probe records (recipes/ldm-emoji.ts readProbes): last record of
 * a step wins, a line cut by a kill is skipped.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend } from '../helpers/backend';
import { tinyConfig, tinyLdm } from './helpers';
import { readSafetensors } from '../../kernel-lib/checkpoint/safetensors';
import { CAPTION_EMBED_STD, warmStartCaptionEmbedding } from '../../kernel-lib/recipes/ldm-warm-start';
import { readProbes } from '../../kernel-lib/recipes/ldm-emoji';

const CLIP = 'data/checkpoints/clip-emoji';

beforeAll(() => useBackend());

test('rows are the CLIP rows up to one scale, with s.d. 0.02', () => {
  // the clip's token embedding is 128 wide: a tiny decoder with caption.dim 128
  const c = tinyConfig();
  const m = tinyLdm({ config: { ...c, caption: { ...c.caption, dim: 128, heads: 2 } } });
  try {
    const r = warmStartCaptionEmbedding(m, CLIP);
    const clip = Float32Array.from(readSafetensors(`${CLIP}/model.safetensors`).tensors.get('text.embed.weight')?.data ?? []);
    const got = m.params.get('caption.embed')?.dataSync() as Float32Array;
    expect(r).toMatchObject({ from: 'clip-emoji', tensor: 'text.embed.weight', rows: 4096, std: CAPTION_EMBED_STD });
    expect(got.length).toBe(clip.length);
    let maxErr = 0;
    let sq = 0;
    for (let i = 0; i < got.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(got[i] - clip[i] * r.scale));
      sq += got[i] * got[i];
    }
    expect(maxErr).toBeLessThan(1e-6);
    expect(Math.sqrt(sq / got.length)).toBeCloseTo(CAPTION_EMBED_STD, 3);
  } finally {
    m.dispose();
  }
});

test('refused with the reason: another width, another tokenizer, no tokenizer', () => {
  const m = tinyLdm(); // caption.dim 16
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warm-'));
  try {
    expect(() => warmStartCaptionEmbedding(m, CLIP)).toThrow(
      `caption warm start from ${CLIP}: text.embed.weight has shape [4096,128], the decoder's caption.embed [4096,16] (caption.dim must equal the CLIP's textEmbed)`,
    );
    expect(() => warmStartCaptionEmbedding(m, dir)).toThrow(`caption warm start from ${dir}: no tokenizer.json there`);
    const tok = JSON.parse(fs.readFileSync(`${CLIP}/tokenizer.json`, 'utf8'));
    tok.model.merges = tok.model.merges.slice(1);
    fs.writeFileSync(`${dir}/tokenizer.json`, JSON.stringify(tok));
    expect(() => warmStartCaptionEmbedding(m, dir)).toThrow(`caption warm start from ${dir}: the CLIP's tokenizer is not the decoder's (vocabularies or merges differ), so its embedding rows belong to other tokens`);
  } finally {
    m.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('probe records: one per step, the last one written wins, a cut line is skipped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probes-'));
  try {
    expect(readProbes(dir)).toEqual([]);
    const band = (own: number) => [{ from: 1, to: 200, own, shuffled: own + 0.01, null: own + 0.02 }];
    const lines = [{ step: 2000, bands: band(0.2) }, { step: 1000, bands: band(0.3) }, { step: 2000, bands: band(0.25) }].map((r) => JSON.stringify(r));
    fs.writeFileSync(`${dir}/probes.jsonl`, lines.join('\n') + '\n{"step": 3000, "ban');
    expect(readProbes(dir)).toEqual([{ step: 1000, bands: band(0.3) }, { step: 2000, bands: band(0.25) }]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
