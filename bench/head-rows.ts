/**
 * The `head-rows` section of `switchboard bench` (`npm run bench -- --only head-rows [--head-users a,b]`): the
 * LM head run only where its output is read, against the paths before (head-legacy.ts), on real batches of
 * each user, with the shipped mm-moe-small, ldm-emoji and vqvae-emoji:
 *
 *   mumu-t64, mumu-t4  a MUMU training step (16 prompts, the `mumu` arm: connector, pooling at 4 tokens, decoder
 *                      LoRA): loss and gradients; the LM's states only, no head (forwardStates)
 *   mumu-eval          promptStates of 8 held-out t64 prompts (drawItems' batch); forwardHidden, no logits read back
 *   moss, moss-full    the trainer's loss (lmTrainLoss) on a MoSS instruction batch (8 items) with the `lora` arm's
 *                      adapter (r 8, dropout on), and with every model weight trained (the `full` arm)
 *   minigpt5           a MiniGPT-5 stage-1 step (16 caption pairs, the `full` arm: voken rows, mapper, L_text,
 *                      L_LDM, L_CAP), loss parts and gradients
 *
 * For each: whether the new path's loss and every gradient equal the old path's bit for bit (max |Δ| where not),
 * then old and new steps taking turns (a warm-up of each, then `rounds` of each), median CPU and wall ms per step
 * and the ratio new / old. CPU time is the number to read on a busy machine.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../kernel-lib/backend/backend';
import { ensureData } from '../kernel-lib/data/store';
import type { DataStore } from '../kernel-lib/data/store';
import { Session } from '../kernel-lib/session';
import { checkpointDir } from '../kernel-lib/paths';
import { VQVAE } from '../kernel-lib/image';
import { LatentDiffusion } from '../kernel-lib/diffusion/model';
import { DecoderLoRA } from '../kernel-lib/diffusion/lora';
import { clearAttentionCache } from '../kernel-lib/diffusion/attention';
import { localGradients } from '../kernel-lib/train/loop';
import { trainableNames } from '../kernel-lib/train/params';
import { lmTrainLoss, prepareBatch, trainingParams } from '../kernel-lib/train/trainer';
import { attachLoRA } from '../kernel-lib/adapters';
import { instructionData } from '../kernel-lib/data/instructions';
import * as mumu from '../kernel-lib/papers/mumu-multimodal-prompts/index';
import { armData, vqCropEncoder } from '../kernel-lib/papers/mumu-multimodal-prompts/shipped';
import { mumuBatches } from '../kernel-lib/papers/mumu-multimodal-prompts/batch';
import { mumuLoss } from '../kernel-lib/papers/mumu-multimodal-prompts/losses';
import { promptStates } from '../kernel-lib/papers/mumu-multimodal-prompts/encoder';
import { armAdapter } from '../kernel-lib/papers/moss-modality-specialized-synergizers/arms';
import { CodedItems, instructionBatches } from '../kernel-lib/papers/moss-modality-specialized-synergizers/items';
import { armSettings as vokenArm } from '../kernel-lib/papers/minigpt5-generative-vokens/arms';
import { vokenBatches } from '../kernel-lib/papers/minigpt5-generative-vokens/batch';
import { sceneCaptions } from '../kernel-lib/papers/minigpt5-generative-vokens/items';
import { defaultMapperConfig } from '../kernel-lib/papers/minigpt5-generative-vokens/mapper-config';
import { FeatureMapper } from '../kernel-lib/papers/minigpt5-generative-vokens/mapper';
import { vokenLosses } from '../kernel-lib/papers/minigpt5-generative-vokens/losses';
import { vokenTrainable } from '../kernel-lib/papers/minigpt5-generative-vokens/vokens';
import { legacyStatesModel, legacyTrainLoss, legacyVokenLosses } from './head-legacy';
import { median } from './train-turns';

export const HEAD_USERS = ['mumu-t64', 'mumu-t4', 'mumu-eval', 'moss', 'moss-full', 'minigpt5'] as const;
export type HeadUser = (typeof HEAD_USERS)[number];

/** One path's output on the host: its loss values (or states) and its gradients by parameter name. */
export interface HostOut {
  values: Float32Array;
  grads: Map<string, Float32Array>;
}

/** A user's old and new step on one batch. */
export interface HeadCase {
  user: HeadUser;
  /** What the batch is: rows, positions (the old path's head rows), and the rows the new path runs the head on. */
  batch: { rows: number; positions: number; headRows: number };
  run(path: 'old' | 'new'): HostOut;
  dispose(): void;
}

export interface Exactness {
  /** The loss values (or states) bit for bit, and their max |Δ|. */
  valuesSame: boolean;
  valuesMaxDiff: number;
  /** Gradients bit for bit: how many of how many; the max |Δ| over all; those that differ. */
  gradsSame: number;
  grads: number;
  gradsMaxDiff: number;
  differing: string[];
}

export interface HeadRowsResult {
  user: HeadUser;
  batch: HeadCase['batch'];
  exact: Exactness;
  /** Median ms per step (process CPU and wall), old and new path, and new / old (null: not timed, rounds 0). */
  cpu_ms: { old: number; new: number; ratio: number } | null;
  wall_ms: { old: number; new: number; ratio: number } | null;
  /** Every timed step's process CPU ms, per path, in the order run. */
  cpu_samples: { old: number[]; new: number[] } | null;
}

const bitsEqual = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** Old against new output, bit for bit. */
export function compareOuts(old: HostOut, neu: HostOut): Exactness {
  if (old.values.length !== neu.values.length) throw new Error(`head-rows: the paths give ${old.values.length} and ${neu.values.length} values`);
  const names = [...old.grads.keys()];
  if (names.length !== neu.grads.size || names.some((n) => !neu.grads.has(n))) throw new Error(`head-rows: the paths give gradients of different parameters (${names.length} vs ${neu.grads.size})`);
  const differing = names.filter((n) => !bitsEqual(old.grads.get(n)!, neu.grads.get(n)!));
  return {
    valuesSame: bitsEqual(old.values, neu.values),
    valuesMaxDiff: maxDiff(old.values, neu.values),
    gradsSame: names.length - differing.length,
    grads: names.length,
    gradsMaxDiff: differing.reduce((m, n) => Math.max(m, maxDiff(old.grads.get(n)!, neu.grads.get(n)!)), 0),
    differing,
  };
}

/** Loss parts and the gradients of `names` (the training loop's own gradient call), read back. */
function gradStep(params: Map<string, tf.Variable>, names: string[], loss: () => tf.Scalar[]): HostOut {
  let out!: HostOut;
  tf.tidy(() => {
    let values = new Float32Array(0);
    const g = localGradients(params, () => {
      const parts = loss();
      values = Float32Array.from(parts.map((p) => p.dataSync()[0])); // read here: the gradient call frees all but the loss
      return parts[0];
    })(null, 0, names);
    out = { values, grads: new Map([...g.grads].map(([n, t]) => [n, Float32Array.from(t.dataSync() as Float32Array)])) };
  });
  return out;
}

interface Shared {
  store: DataStore;
  session: Session;
  vq: VQVAE;
  ldm: LatentDiffusion;
}

function mumuCase(sh: Shared, user: 'mumu-t64' | 'mumu-t4' | 'mumu-eval'): HeadCase {
  const { session: s, ldm } = sh;
  const tokens = user === 'mumu-t4' ? 4 : 64;
  const set = mumu.armSettings('mumu', tokens, 64);
  const data = armData(sh.store, set, vqCropEncoder(sh.vq), { probeItems: 8 });
  const legacy = legacyStatesModel(s.model);
  const model = (p: 'old' | 'new') => (p === 'old' ? legacy : s.model);
  if (user === 'mumu-eval') {
    const b = mumu.padPromptRows(s.tokenizer, data.probe.map((it) => mumu.promptRow(s.tokenizer, it.prompt, 64)));
    return {
      user,
      batch: { rows: b.B, positions: b.B * b.T, headRows: 0 },
      run: (p) => {
        const st = promptStates(model(p), b, null);
        const values = Float32Array.from(st.dataSync() as Float32Array);
        st.dispose();
        return { values, grads: new Map() };
      },
      dispose: () => {},
    };
  }
  const H = s.config.hiddenSize;
  const pooler = tokens < 64 ? mumu.defaultPoolerConfig({ hiddenSize: H, codes: 64, tokens }) : null;
  const connector = mumu.Connector.create({ connector: mumu.defaultConnectorConfig({ hiddenSize: H, dim: ldm.config.caption.dim }), pooler }, 0);
  const lora = DecoderLoRA.attach(ldm, { rank: mumu.DECODER_RANK, alpha: mumu.DECODER_ALPHA, seed: 0 });
  const b = mumuBatches(s.tokenizer, ldm, data.train, { encoder: 'prompt', tokensPerCrop: tokens, condDrop: ldm.config.condDropProb, batchSize: 16, seed: 0 })(0);
  const params = new Map([...connector.params, ...lora.params]);
  const p = b.prompts!;
  return {
    user,
    batch: { rows: p.B, positions: p.B * p.T, headRows: 0 },
    run: (path) => gradStep(params, [...params.keys()], () => [mumuLoss({ model: model(path), connector, ldm }, b)]),
    dispose: () => {
      lora.detach();
      connector.dispose();
    },
  };
}

function mossCase(sh: Shared, user: 'moss' | 'moss-full'): HeadCase {
  const s = sh.session;
  const spec = user === 'moss' ? armAdapter(s.config, 'lora', { rank: 8, seed: 0, grid: s.tokenizer.imageGrid }) : null;
  const adapter = spec ? attachLoRA(s, spec) : null;
  const items = new CodedItems(instructionData(sh.store, { split: 'train' }), (imgs) => sh.vq.encodeImages(imgs));
  const batch = instructionBatches(s.tokenizer, items, { batchSize: 8, seed: 0 })(0);
  const b = prepareBatch(batch, { modalityOf: (id) => s.tokenizer.modalityOf(id), positionsOf: (rows) => s.positions(rows) }, s.config.vocabSize);
  const params = trainingParams(s.model);
  const names = adapter ? [...params.keys()].filter((n) => !s.model.params.has(n)) : [...params.keys()];
  const o = { auxCoef: s.config.routerAuxLossCoef, dropoutSeed: 7 };
  return {
    user,
    batch: { rows: b.B, positions: b.B * b.T, headRows: b.weights.filter((w) => w !== 0).length },
    run: (path) =>
      gradStep(params, names, () => {
        const l = (path === 'old' ? legacyTrainLoss : lmTrainLoss)(s.model, b, o);
        return [l.total, l.lm, l.aux];
      }),
    dispose: () => adapter?.detach(),
  };
}

function minigpt5Case(sh: Shared): HeadCase {
  const { session: s, ldm } = sh;
  const set = vokenArm('full', 1);
  const cap = ldm.config.caption;
  const mapper = FeatureMapper.create(defaultMapperConfig({ hiddenSize: s.config.hiddenSize, numVokens: s.tokenizer.numVokens, length: cap.maxTokens, dim: cap.dim }, set.mapper), 0);
  const b = vokenBatches(s, ldm, sceneCaptions(sh.store, 'train'), { weights: set.weights, vokenDropout: set.vokenDropout, vokens: set.vokens, batchSize: 16, seed: 0 })(0);
  const params = trainingParams(s.model);
  for (const [n, v] of mapper.params) params.set(n, v);
  const names = trainableNames([...params.keys()], vokenTrainable(s.model, s.tokenizer).freeze);
  return {
    user: 'minigpt5',
    batch: { rows: b.B, positions: b.B * b.T, headRows: b.weights.filter((w) => w !== 0).length },
    run: (path) =>
      gradStep(params, names, () => {
        const l = (path === 'old' ? legacyVokenLosses : vokenLosses)({ model: s.model, mapper, ldm }, b, set.weights);
        return [l.total, l.text, ...(l.ldm ? [l.ldm] : []), ...(l.cap ? [l.cap] : [])];
      }),
    dispose: () => mapper.dispose(),
  };
}

/** Old and new taking turns: a warm-up of each, then `rounds` of each; medians per step. */
export function timeCase(c: HeadCase, rounds: number): Pick<HeadRowsResult, 'cpu_ms' | 'wall_ms' | 'cpu_samples'> {
  if (rounds === 0) return { cpu_ms: null, wall_ms: null, cpu_samples: null };
  const t: Record<'old' | 'new', { cpu: number[]; wall: number[] }> = { old: { cpu: [], wall: [] }, new: { cpu: [], wall: [] } };
  for (let r = 0; r <= rounds; r++) {
    for (const p of r % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const)) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      c.run(p);
      const wall = performance.now() - w0;
      const cu = process.cpuUsage(c0);
      if (r > 0) {
        t[p].cpu.push((cu.user + cu.system) / 1000);
        t[p].wall.push(wall);
      }
    }
  }
  const pair = (k: 'cpu' | 'wall') => {
    const o = median(t.old[k]);
    const n = median(t.new[k]);
    return { old: Math.round(o), new: Math.round(n), ratio: Number((n / o).toFixed(3)) };
  };
  const r0 = (xs: number[]) => xs.map((x) => Math.round(x));
  return { cpu_ms: pair('cpu'), wall_ms: pair('wall'), cpu_samples: { old: r0(t.old.cpu), new: r0(t.new.cpu) } };
}

/**
 * The section: each user's case built, checked and timed in turn (one at a time: they share the parts); a path
 * that leaves tensors behind is an error. `rounds` 0 checks exactness only.
 */
export async function benchHeadRows(o: { users: readonly HeadUser[]; rounds: number; log: (s: string) => void }): Promise<HeadRowsResult[]> {
  if (!Number.isInteger(o.rounds) || o.rounds < 0) throw new Error(`bench head-rows: rounds must be an integer ≥ 0, got ${o.rounds}`);
  for (const u of o.users) if (!HEAD_USERS.includes(u)) throw new Error(`bench head-rows: unknown user '${u}' (expected ${HEAD_USERS.join(', ')})`);
  await initBackend();
  const sh: Shared = { store: await ensureData(), session: await Session.load(checkpointDir('mm-moe-small')), vq: VQVAE.load(checkpointDir('vqvae-emoji')), ldm: LatentDiffusion.load(checkpointDir('ldm-emoji')) };
  const out: HeadRowsResult[] = [];
  try {
    for (const user of o.users) {
      const c = user === 'minigpt5' ? minigpt5Case(sh) : user === 'moss' || user === 'moss-full' ? mossCase(sh, user) : mumuCase(sh, user);
      try {
        const old = c.run('old'); // first: it also fills the model's caches (causal masks per length)
        const n0 = tf.memory().numTensors;
        const exact = compareOuts(old, c.run('new'));
        if (tf.memory().numTensors !== n0) throw new Error(`bench head-rows: ${user}'s new path left ${tf.memory().numTensors - n0} tensors`);
        o.log(`${user}: ${c.batch.rows} rows, ${c.batch.positions} positions, the head on ${c.batch.headRows}; ${o.rounds} timed round(s)`);
        out.push({ user, batch: c.batch, exact, ...timeCase(c, o.rounds) });
      } finally {
        c.dispose();
      }
    }
  } finally {
    clearAttentionCache(); // the decoder attention's kept masks
    sh.ldm.dispose();
    sh.vq.dispose();
    sh.session.dispose();
  }
  return out;
}

export function formatHeadRows(rs: readonly HeadRowsResult[]): string {
  const lines = ['LM head only where read (new) against every position (old); median ms per step, process CPU and wall:'];
  for (const r of rs) {
    const e = r.exact;
    const same = `values ${e.valuesSame ? 'bit-identical' : `max |Δ| ${e.valuesMaxDiff.toExponential(2)}`}, gradients ${e.gradsSame}/${e.grads} bit-identical${e.differing.length > 0 ? ` (max |Δ| ${e.gradsMaxDiff.toExponential(2)} in ${e.differing.join(', ')})` : ''}`;
    const t = r.cpu_ms && r.wall_ms ? `CPU ${r.cpu_ms.old} → ${r.cpu_ms.new} (${r.cpu_ms.ratio}×), wall ${r.wall_ms.old} → ${r.wall_ms.new} (${r.wall_ms.ratio}×)` : 'not timed';
    lines.push(`  ${r.user.padEnd(9)} ${r.batch.rows}×${r.batch.positions / r.batch.rows}, head on ${r.batch.headRows} of ${r.batch.positions} rows: ${t}; ${same}`);
  }
  return lines.join('\n') + '\n';
}
