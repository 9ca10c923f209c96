/**
 * The generative vokens [IMG1] … [IMGn] of the LM (MiniGPT-5 §3.1): their ids, the part of the LM that
 * trains for them (only their input embedding rows and output head columns; every other weight stays
 * bit-exact, as notebook 01 trains the image-code rows), their hidden states read off a forward
 * differentiably, and the file that keeps the trained rows (`vokens.safetensors`, beside a run's mapper).
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEModel } from '../../model/model';
import type { MultimodalTokenizer } from '../../tokenizer';
import type { HostTensor } from '../../model/params';
import type { TrainSlice } from '../../train/params';
import { CheckpointError } from '../../checkpoint/errors';
import { readSafetensors, writeSafetensors } from '../../checkpoint/safetensors';

export const VOKENS_FILE = 'vokens.safetensors';
export const VOKENS_FORMAT = 'switchboard-vokens';

/** The ids of [IMG1] … [IMGn], in order; refuses a tokenizer without vokens. */
export function vokenIds(tok: MultimodalTokenizer): number[] {
  if (tok.numVokens === 0) throw new Error('minigpt5: the tokenizer has no vokens ([IMG1] … [IMGn]); extend it with numVokens > 0');
  return Array.from({ length: tok.numVokens }, (_, i) => tok.vokenId(i + 1));
}

/**
 * What trains for the vokens: every model parameter but `embed` (and `lm_head`) frozen by name, and of those
 * only the voken rows (columns) — `{ freeze, trainSlices }` for the training loop.
 */
export function vokenTrainable(model: MoEModel, tok: MultimodalTokenizer): { freeze: string[]; trainSlices: TrainSlice[] } {
  const ids = vokenIds(tok);
  const from = ids[0];
  const to = ids[ids.length - 1] + 1;
  const freeze = [...model.params.keys()].filter((n) => n !== 'embed' && n !== 'lm_head');
  const trainSlices: TrainSlice[] = [{ param: 'embed', axis: 0, from, to }];
  if (model.params.has('lm_head')) trainSlices.push({ param: 'lm_head', axis: 1, from, to });
  return { freeze, trainSlices };
}

/** Rows `rows` of x [N, H] as [rows.length, H], differentiably (model/linear.ts; once a one-hot product here). */
export { selectRows } from '../../model/linear';

/** The voken rows of the LM as host tensors: embed [n, H] and, when untied, lm_head [H, n]. */
export function vokenRows(model: MoEModel, tok: MultimodalTokenizer): Map<string, HostTensor> {
  const ids = vokenIds(tok);
  const from = ids[0];
  const n = ids.length;
  const H = model.config.hiddenSize;
  const V = model.config.vocabSize;
  const out = new Map<string, HostTensor>();
  const embed = model.params.get('embed')!.dataSync() as Float32Array;
  out.set('embed', { shape: [n, H], data: embed.slice(from * H, (from + n) * H) });
  const head = model.params.get('lm_head');
  if (head) {
    const h = head.dataSync() as Float32Array;
    const cols = new Float32Array(H * n);
    for (let r = 0; r < H; r++) for (let j = 0; j < n; j++) cols[r * n + j] = h[r * V + from + j];
    out.set('lm_head', { shape: [H, n], data: cols });
  }
  return out;
}

/** Writes the voken rows to `file` (atomically; float32). */
export function saveVokenRows(model: MoEModel, tok: MultimodalTokenizer, file: string): void {
  const ids = vokenIds(tok);
  writeSafetensors(file, vokenRows(model, tok), { metadata: { format: VOKENS_FORMAT, vokenStart: String(ids[0]), numVokens: String(ids.length) } });
}

/**
 * Reads voken rows written by saveVokenRows into the model's embed rows (and lm_head columns); everything
 * is checked against the model and tokenizer before anything changes.
 */
export function loadVokenRows(model: MoEModel, tok: MultimodalTokenizer, file: string): void {
  const ids = vokenIds(tok);
  const from = ids[0];
  const n = ids.length;
  const H = model.config.hiddenSize;
  const V = model.config.vocabSize;
  const { tensors, metadata } = readSafetensors(file);
  if (metadata?.format !== VOKENS_FORMAT) throw new CheckpointError(file, `metadata format is ${JSON.stringify(metadata?.format)}, expected "${VOKENS_FORMAT}"`);
  if (metadata.vokenStart !== String(from) || metadata.numVokens !== String(n)) {
    throw new CheckpointError(file, `holds ${metadata.numVokens} vokens from id ${metadata.vokenStart}; this tokenizer has ${n} from id ${from}`);
  }
  const want: Array<[string, number[]]> = [['embed', [n, H]]];
  if (model.params.has('lm_head')) want.push(['lm_head', [H, n]]);
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t || t.shape.join(',') !== shape.join(',')) throw new CheckpointError(file, `tensor "${name}" is missing or not [${shape}]`, name);
  }
  const embed = Float32Array.from(model.params.get('embed')!.dataSync() as Float32Array);
  embed.set(tensors.get('embed')!.data, from * H);
  const head = model.params.get('lm_head');
  const headData = head ? Float32Array.from(head.dataSync() as Float32Array) : null;
  if (headData) {
    const cols = tensors.get('lm_head')!.data;
    for (let r = 0; r < H; r++) for (let j = 0; j < n; j++) headData[r * V + from + j] = cols[r * n + j];
  }
  tf.tidy(() => {
    model.params.get('embed')!.assign(tf.tensor2d(embed, [V, H]));
    if (head && headData) head.assign(tf.tensor2d(headData, [H, V]));
  });
}
