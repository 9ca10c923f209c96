/**
 * The `switchboard` command line:
 *   switchboard info MODEL [--json]
 *   switchboard generate MODEL --prompt "..." [--image-from image.png|codes.json] [--vqvae DIR] [--start-image]
 *       [--max-new-tokens N] [--seed S] [--temperature T] [--top-k K] [--top-p P] [--cfg-scale S] [--json]
 *       [--image-out FILE.png]
 *   switchboard bench [bench options]
 * MODEL is a checkpoint directory (config.json, model.safetensors, tokenizer.json).
 * With --json, generate prints one JSON line describing the prompt, then one JSON line per Step.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Session } from '../session';
import type { ImageCodes, PromptPart } from '../tokenizer';
import { VQVAE, defaultVQVAEDir, DOWNSAMPLE } from '../image';
import { imageGridPng } from '../image/png';
import type { Step } from '../decode/generate';

const USAGE = `usage:
  switchboard info MODEL [--json]
  switchboard generate MODEL --prompt TEXT [--image-from IMAGE.png|CODES.json] [--vqvae DIR] [--start-image]
                        [--max-new-tokens N] [--seed S] [--temperature T] [--top-k K] [--top-p P]
                        [--cfg-scale S] [--capture none|routing|full] [--json] [--image-out FILE.png]
  switchboard bench [--quick] [--out FILE] [--checkpoint DIR] [--torch-threads N]
MODEL is a checkpoint directory (config.json, model.safetensors, tokenizer.json). A PNG given to
--image-from is turned into image codes by the VQ-VAE (default data/checkpoints/vqvae-emoji).
--start-image opens an image after the prompt; without --max-new-tokens it then draws one whole image.
--image-out writes the images the model drew, decoded by the same VQ-VAE (one PNG, side by side, 4× size).`;

export class UsageError extends Error {}

function num(name: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got '${v}'`);
  }
  return n;
}

/** The VQ-VAE at `dir`, refused (and disposed) when its codebook does not match the model's image codes. */
function vqvaeFor(session: Session, dir: string): VQVAE {
  const vq = VQVAE.load(dir);
  if (vq.numCodes !== session.tokenizer.numImageCodes) {
    vq.dispose();
    throw new Error(`the VQ-VAE at ${dir} has ${vq.numCodes} codes but the model has ${session.tokenizer.numImageCodes} image codes`);
  }
  return vq;
}

/** The complete images among generated steps (codes grouped by image, in order); `partial` counts codes of unfinished ones. */
function drawnImages(steps: readonly Step[], s: Session): { images: ImageCodes[]; partial: number } {
  const { height, width } = s.tokenizer.imageGrid;
  const byImage = new Map<number, number[]>();
  for (const st of steps) {
    if (st.modality !== 'image' || !st.grid) continue;
    const codes = byImage.get(st.grid.image) ?? [];
    codes.push(s.tokenizer.codeOf(st.tokenId));
    byImage.set(st.grid.image, codes);
  }
  const all = [...byImage.values()];
  const images = all.filter((c) => c.length === height * width).map((codes) => ({ height, width, codes }));
  return { images, partial: all.filter((c) => c.length !== height * width).reduce((n, c) => n + c.length, 0) };
}

async function readImageCodes(file: string, session: Session, vqvaeDir: string): Promise<ImageCodes> {
  if (/\.png$/i.test(file)) {
    let png: Uint8Array;
    try {
      png = fs.readFileSync(file);
    } catch (e) {
      throw new UsageError(`--image-from ${file}: ${(e as Error).message}`);
    }
    const vq = vqvaeFor(session, vqvaeDir);
    try {
      return await vq.encodePng(png, { size: session.tokenizer.imageGrid.height * DOWNSAMPLE });
    } finally {
      vq.dispose();
    }
  }
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--image-from ${file}: ${(e as Error).message}`);
  }
  return j as ImageCodes; // shape and ranges are validated by the tokenizer with messages naming the part
}

async function info(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError('info needs exactly one MODEL');
  const s = await Session.load(positionals[0]);
  const i = s.info();
  if (values.json) {
    out(JSON.stringify(i));
  } else {
    const c = s.config;
    const v = i.vocabulary as Record<string, unknown>;
    out(`${positionals[0]}
  parameters   ${(i.parameters as number).toLocaleString('en-US')}
  layers       ${c.numLayers} × (attention ${c.numHeads} heads / ${c.numKvHeads} kv, MoE ${c.numExperts} experts top-${c.topK}${c.sharedExpertSize ? ` + shared ${c.sharedExpertSize}` : ''})
  hidden       ${c.hiddenSize}, expert width ${c.intermediateSize}, context ${c.maxPositions}
  vocabulary   ${v.total} ids: ${v.text} text, ${v.imageCodes} image codes${v.imageGrid ? ` (${JSON.stringify(v.imageGrid)})` : ''}, ${v.vokens} vokens
  backend      ${s.device.backend} (gpu: ${s.device.gpu}, threads: ${s.device.threads})`);
  }
  s.dispose();
}

async function generate(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      prompt: { type: 'string' },
      'image-from': { type: 'string' },
      vqvae: { type: 'string' },
      'start-image': { type: 'boolean' },
      'max-new-tokens': { type: 'string' },
      seed: { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'cfg-scale': { type: 'string' },
      capture: { type: 'string' },
      json: { type: 'boolean' },
      'image-out': { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('generate needs exactly one MODEL');
  if (values.prompt === undefined && values['image-from'] === undefined) throw new UsageError('generate needs --prompt (and/or --image-from)');
  const capture = values.capture ?? 'routing';
  if (!['none', 'routing', 'full'].includes(capture)) throw new UsageError(`--capture must be none, routing or full, got '${capture}'`);
  const imageOut = values['image-out'];
  if (imageOut !== undefined) {
    if (!/\.png$/i.test(imageOut)) throw new UsageError(`--image-out must name a .png file, got '${imageOut}'`);
    if (!fs.existsSync(path.dirname(path.resolve(imageOut)))) throw new UsageError(`--image-out ${imageOut}: no directory ${path.dirname(path.resolve(imageOut))}`);
  }
  const opts = {
    maxNewTokens: num('max-new-tokens', values['max-new-tokens'], true),
    seed: num('seed', values.seed, true),
    temperature: num('temperature', values.temperature, false),
    topK: num('top-k', values['top-k'], true),
    topP: num('top-p', values['top-p'], false),
    cfgScale: num('cfg-scale', values['cfg-scale'], false),
    startImage: values['start-image'] ?? false,
    capture: capture as 'none' | 'routing' | 'full',
  };
  const s = await Session.load(positionals[0]);
  let vq: VQVAE | undefined;
  try {
    // checked before any decoding: the images will need a VQ-VAE that fits the model
    if (imageOut !== undefined) vq = vqvaeFor(s, values.vqvae ?? defaultVQVAEDir());
    const { height, width } = s.tokenizer.imageGrid;
    const parts: PromptPart[] = [];
    if (values['image-from'] !== undefined) parts.push({ image: await readImageCodes(values['image-from'], s, values.vqvae ?? defaultVQVAEDir()) });
    if (values.prompt !== undefined) parts.push({ text: values.prompt });
    const enc = s.encode(parts);
    const ac = new AbortController();
    const onInt = () => ac.abort();
    process.once('SIGINT', onInt);
    const g = s.generate(parts, { ...opts, signal: ac.signal });
    if (values.json) {
      out(JSON.stringify({ prompt: { ids: g.promptIds, modalities: g.promptIds.map((id) => s.tokenizer.modalityOf(id)), pieces: g.promptIds.map((id) => s.tokenizer.pieceOf(id)), grid: enc.grid } }));
    }
    for await (const step of g) {
      if (values.json) out(JSON.stringify(step));
      else process.stdout.write(step.modality === 'text' ? step.piece : `${step.piece}${step.grid && step.grid.col === s.tokenizer.imageGrid.width - 1 ? '\n' : ''}`);
    }
    process.removeListener('SIGINT', onInt);
    if (!values.json) process.stdout.write('\n');
    err(`[${g.steps.length} tokens, stopped: ${g.stopReason}]`);
    if (vq && imageOut !== undefined) {
      const { images, partial } = drawnImages(g.steps, s);
      if (images.length === 0) {
        throw new Error(`--image-out ${imageOut}: the model drew no complete image (${partial} of ${height * width} codes); use --start-image, or raise --max-new-tokens`);
      }
      fs.writeFileSync(imageOut, await imageGridPng(vq.decode(images), { cols: images.length, pad: 2, scale: 4 }));
      err(`wrote ${imageOut} (${images.length} image${images.length === 1 ? '' : 's'}${partial ? `; ${partial} codes of an unfinished one left out` : ''})`);
    }
  } finally {
    vq?.dispose();
    s.dispose();
  }
}

export async function main(argv: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s + '\n');
  const err = (s: string) => process.stderr.write(s + '\n');
  const [cmd, ...rest] = argv;
  try {
    if (cmd === 'info') await info(rest, out);
    else if (cmd === 'generate') await generate(rest, out, err);
    else if (cmd === 'bench') {
      const { runBench } = await import('../../bench/run');
      await runBench(rest);
    } else if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      out(USAGE);
      return cmd === undefined ? 2 : 0;
    } else {
      throw new UsageError(`unknown command '${cmd}'`);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`switchboard: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    err(`switchboard: ${(e as Error).message}`);
    return 1;
  }
}
