/**
 * `switchboard generate MODEL --prompt TEXT …`: decode from a checkpoint, printing tokens as they come (or, with
 * --json, one line describing the prompt and one JSON Step per token). Ctrl-C stops within one step and exits
 * 130, so scripts can tell an interrupted run from a finished one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session } from '../session';
import type { ImageCodes, PromptPart } from '../tokenizer';
import { VQVAE, defaultVQVAEDir, DOWNSAMPLE } from '../image';
import { imageGridPng, PREVIEW_BACKGROUND } from '../image/png';
import type { Step } from '../decode/generate';
import { CFG_UNCONDITIONAL_MODES, CfgUnconditional } from '../decode/cfg';
import { choiceArg, CommandSpec, numberArg, Parsed, parseCommand, seedArg, UsageError } from './args';
import { EXIT_INTERRUPTED, Io, withInterrupt } from './io';
import { isPeftDir, loadPeftAdapter } from '../adapters';

export const GENERATE: CommandSpec = {
  usage: 'switchboard generate',
  positionals: ['MODEL'],
  about:
    'Generates from the checkpoint directory MODEL (config.json, model.safetensors, tokenizer.json), printing tokens as they come.\n' +
    'A PNG (or any image) given to --image-from is turned into image codes by the VQ-VAE; a .json file gives the codes.\n' +
    '--start-image opens an image after the prompt; without --max-new-tokens it then draws one whole image.\n' +
    'Ctrl-C stops within one step (exit 130). Exit codes: 0 ok, 1 error, 2 usage, 130 interrupted.',
  options: {
    prompt: { type: 'string', arg: 'TEXT', help: 'the text prompt (after the image, with --image-from)' },
    'image-from': { type: 'string', arg: 'FILE', help: 'an image (PNG, …) or codes JSON {"height", "width", "codes"} to start the prompt with' },
    vqvae: { type: 'string', arg: 'DIR', help: 'the VQ-VAE for --image-from and --image-out (default data/checkpoints/vqvae-emoji)' },
    'start-image': { type: 'boolean', help: 'open an image (<boi>) after the prompt' },
    'max-new-tokens': { type: 'string', arg: 'N', help: 'tokens to generate (default 32, or one whole image after --start-image)' },
    seed: { type: 'string', arg: 'S', help: 'sampling seed, an integer in [0, 2^32) (default 0)' },
    temperature: { type: 'string', arg: 'T', help: 'sampling temperature, 0 = greedy (default 1)' },
    'top-k': { type: 'string', arg: 'K', help: 'sample among the K most likely tokens' },
    'top-p': { type: 'string', arg: 'P', help: 'nucleus sampling' },
    'cfg-scale': { type: 'string', arg: 'S', help: 'classifier-free guidance on image codes (1 = off)' },
    'cfg-unconditional': { type: 'string', arg: 'MODE', help: `the unconditional branch of --cfg-scale: ${CFG_UNCONDITIONAL_MODES.join(' (default: the prompt without its text) or ')} (the prompt's text replaced by <unconditional>, as Liquid trains it; needs a vocabulary with it)` },
    capture: { type: 'string', arg: 'LEVEL', help: 'routing captured per step: none, routing (default) or full' },
    json: { type: 'boolean', help: 'one JSON line for the prompt, then one JSON Step per token' },
    'image-out': { type: 'string', arg: 'FILE.png', help: 'write the complete images drawn, decoded by the VQ-VAE (side by side, 4× size)' },
    adapter: { type: 'string', arg: 'DIR', help: 'decode with the PEFT adapter directory DIR on (adapter_config.json + adapter_model.safetensors)' },
  },
};

/** --cfg-unconditional, checked by name: one of the modes, and only with --cfg-scale (it changes nothing without). */
function cfgUnconditionalArg(values: Parsed['values']): CfgUnconditional | undefined {
  const mode = choiceArg(values, 'cfg-unconditional', CFG_UNCONDITIONAL_MODES);
  if (mode !== undefined && values['cfg-scale'] === undefined) throw new UsageError('--cfg-unconditional goes with --cfg-scale (it picks the unconditional branch of the guidance)');
  return mode;
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

/** Image codes from a codes JSON file, or from an image file through the VQ-VAE; every failure names the file. */
async function readImageCodes(file: string, session: Session, vqvaeDir: string): Promise<ImageCodes> {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`--image-from ${file}: ${(e as Error).message}`);
  }
  if (/\.json$/i.test(file)) {
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as ImageCodes; // shape and ranges: checked by the tokenizer, naming the part
    } catch (e) {
      throw new UsageError(`--image-from ${file}: ${(e as Error).message}`);
    }
  }
  const vq = vqvaeFor(session, vqvaeDir);
  try {
    return await vq.encodePng(bytes, { size: session.tokenizer.imageGrid.height * DOWNSAMPLE });
  } catch (e) {
    throw new UsageError(`--image-from ${file}: ${(e as Error).message.replace(/^readPng: /, '')}`);
  } finally {
    vq.dispose();
  }
}

export async function generate(argv: string[], io: Io): Promise<number> {
  const { values, positionals, help } = parseCommand(argv, GENERATE);
  if (help) return io.help(GENERATE);
  const str = (k: string) => values[k] as string | undefined;
  if (str('prompt') === undefined && str('image-from') === undefined) throw new UsageError('generate needs --prompt (and/or --image-from)');
  const capture = str('capture') ?? 'routing';
  if (!['none', 'routing', 'full'].includes(capture)) throw new UsageError(`--capture must be none, routing or full, got '${capture}'`);
  const imageOut = str('image-out');
  if (imageOut !== undefined) {
    if (!/\.png$/i.test(imageOut)) throw new UsageError(`--image-out must name a .png file, got '${imageOut}'`);
    if (!fs.existsSync(path.dirname(path.resolve(imageOut)))) throw new UsageError(`--image-out ${imageOut}: no directory ${path.dirname(path.resolve(imageOut))}`);
  }
  const opts = {
    maxNewTokens: numberArg(values, 'max-new-tokens', { integer: true }),
    seed: seedArg(values),
    temperature: numberArg(values, 'temperature'),
    topK: numberArg(values, 'top-k', { integer: true }),
    topP: numberArg(values, 'top-p'),
    cfgScale: numberArg(values, 'cfg-scale'),
    cfgUnconditional: cfgUnconditionalArg(values),
    startImage: values['start-image'] === true,
    capture: capture as 'none' | 'routing' | 'full',
  };
  const modelDir = positionals[0];
  const vqvaeDir = str('vqvae') ?? defaultVQVAEDir();
  const adapterDir = str('adapter');
  if (adapterDir !== undefined && !isPeftDir(adapterDir)) throw new UsageError(`--adapter ${adapterDir}: no adapter_config.json there (a PEFT adapter directory, as saveAdapter/savePeftAdapter write)`);
  const s = await Session.load(modelDir);
  let vq: VQVAE | undefined;
  try {
    if (!s.tokenizer.hasImages) {
      // a text-only model: name the option that needs images rather than the tokenizer's internals
      const needs = (['start-image', 'image-from', 'image-out', 'cfg-scale', 'cfg-unconditional'] as const).find((k) => values[k] !== undefined);
      if (needs) throw new Error(`--${needs} needs a model with image codes; ${modelDir} is text-only`);
    }
    if (adapterDir !== undefined) {
      const h = loadPeftAdapter(s, adapterDir);
      const g = 'grid' in h.spec ? h.spec.grid : null;
      const own = s.tokenizer.hasImages ? s.tokenizer.imageGrid : null;
      if (g && (!own || g.height !== own.height || g.width !== own.width)) {
        throw new Error(`--adapter ${adapterDir}: the adapter was made for a ${g.height}×${g.width} code grid; ${modelDir} has ${own ? `${own.height}×${own.width}` : 'no images'}`);
      }
      io.err(`[adapter ${h.name}: ${h.spec.kind}, rank ${h.spec.rank}]`);
    }
    // checked before any decoding: the images will need a VQ-VAE that fits the model
    if (imageOut !== undefined) vq = vqvaeFor(s, vqvaeDir);
    const parts: PromptPart[] = [];
    const imageFrom = str('image-from');
    if (imageFrom !== undefined) parts.push({ image: await readImageCodes(imageFrom, s, vqvaeDir) });
    if (str('prompt') !== undefined) parts.push({ text: str('prompt') as string });
    const enc = s.encode(parts);
    return await withInterrupt(async (signal, interrupted) => {
      const g = s.generate(parts, { ...opts, signal });
      if (values.json) {
        const t = s.tokenizer;
        io.out(JSON.stringify({ prompt: { ids: g.promptIds, modalities: g.promptIds.map((id) => t.modalityOf(id)), pieces: g.promptIds.map((id) => t.pieceOf(id)), grid: enc.grid } }));
      }
      for await (const step of g) {
        if (values.json) io.out(JSON.stringify(step));
        else if (step.modality !== 'image') io.write(step.piece);
        else io.write(`${step.piece}${step.grid && step.grid.col === s.tokenizer.imageGrid.width - 1 ? '\n' : ''}`);
      }
      if (!values.json) io.write('\n');
      io.err(`[${g.steps.length} tokens, stopped: ${g.stopReason}]`);
      if (interrupted()) return EXIT_INTERRUPTED;
      if (vq && imageOut !== undefined) {
        const { height, width } = s.tokenizer.imageGrid;
        const { images, partial } = drawnImages(g.steps, s);
        if (images.length === 0) {
          throw new Error(`--image-out ${imageOut}: the model drew no complete image (${partial} of ${height * width} codes); use --start-image, or raise --max-new-tokens`);
        }
        fs.writeFileSync(imageOut, await imageGridPng(vq.decode(images), { columns: images.length, padding: 2, scale: 4, background: PREVIEW_BACKGROUND }));
        io.err(`wrote ${imageOut} (${images.length} image${images.length === 1 ? '' : 's'}${partial ? `; ${partial} codes of an unfinished one left out` : ''})`);
      }
      return 0;
    });
  } finally {
    vq?.dispose();
    s.dispose();
  }
}
