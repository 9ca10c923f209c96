/**
 * Interleaved instruction data (MoSS's stand-in for LeafInstruct / InterleavedBench), templated from the
 * project's stories and scenes and split as they are (a val/test item shows its split's held-out pairs,
 * a train item only train pairs). Three tasks:
 *
 *   story     complete a story: the first k frames with their narration → frame k's narration and image
 *             (k drawn in [1, frames − 1]);
 *   edit      edit a scene: the scene and an instruction ("Change the cat into a dog.") → the edited scene,
 *             rendered by the scene generator from the edited spec (scene-edit.ts), so it is ground truth;
 *   continue  continue with an image: a lead sentence and the narration of frames 0..k → frame k's image
 *             (k drawn in [0, frames − 1]).
 *
 * An example's `parts` are the prompt followed by the target; `meta.targetFrom` is the index of the first
 * target part (`promptAndTarget` splits them). `meta.scene` is the target image's ground truth for the
 * scene checker: each object's emoji, name, box and region. Every choice (cut point, edit, wording) is
 * drawn from a stream named by (task, split, index, seed), so an item is the same whatever else is built.
 */
import { DataPart, Example, ExampleList, ListDataset } from './example-list';
import { EmojiInfo, Split, SPLITS } from './emoji';
import { IMAGE_SIZE, LOW_RES_SIZE } from './image';
import type { RGBImage } from '../image/types';
import { downscale2x } from '../image/rgb';
import { Box, Region } from './layout';
import { objectVocabulary, SCENE_SUBCATEGORIES } from './objects';
import { pick, randInt, rngFor } from '../util/random';
import { drawEdit, SceneEdit } from './scene-edit';
import { renderScene } from './scenes';
import { DataStore } from './store';

export const INSTRUCTION_KINDS = ['story', 'edit', 'continue'] as const;
export type InstructionKind = (typeof INSTRUCTION_KINDS)[number];

/** The objects a target image shows (a SceneClaim for the scene checker). */
export interface TargetScene {
  objects: Array<{ emoji: number; name: string; box: Box; region: Region }>;
}

export interface InstructionMeta {
  kind: InstructionKind;
  split: Split;
  /** The story or scene the item is made from. */
  source: { set: 'stories' | 'scenes'; index: number };
  /** Index in `parts` of the first target part. */
  targetFrom: number;
  /** Ground truth of the target image. */
  scene: TargetScene;
  /** story, continue: the frame the target shows. */
  frame?: number;
  /** edit: what was changed, and the instruction sentence. */
  edit?: SceneEdit;
  instruction?: string;
}

export interface InstructionOptions {
  split?: Split;
  /** Seeds the choices (default 0) and, when given, shuffles the order per epoch. */
  seed?: number;
  /** Which tasks, in this order (default all three). The set is their items one after another. */
  kinds?: readonly InstructionKind[];
  /** 32 (default) or 16: every image halved by 2×2 averaging. */
  resolution?: 32 | 16;
}

const STORY_LEADS = ['Continue the story.', 'What happens next?', 'Tell the next part of the story and show it.'];
const CONTINUE_LEADS = ['Draw the last scene of this story.', 'Show what the story describes now.', 'Picture the end of this story.'];

/** The prompt parts and the target parts of an instruction example. */
export function promptAndTarget(ex: Example<InstructionMeta>): { prompt: DataPart[]; target: DataPart[] } {
  return { prompt: ex.parts.slice(0, ex.meta.targetFrom), target: ex.parts.slice(ex.meta.targetFrom) };
}

function target(objects: ReadonlyArray<{ emoji: number; name: string; box: Box; region: Region }>): TargetScene {
  return { objects: objects.map((o) => ({ emoji: o.emoji, name: o.name, box: { ...o.box }, region: o.region })) };
}

/** The instruction set of a split (see the file comment). */
export function instructionData(store: DataStore, options: InstructionOptions = {}): ExampleList<InstructionMeta> {
  const split = options.split ?? 'train';
  if (!SPLITS.includes(split)) throw new Error(`instructionData: split must be one of ${SPLITS.join(', ')}, got '${split}'`);
  const kinds = options.kinds ?? INSTRUCTION_KINDS;
  for (const k of kinds) {
    if (!INSTRUCTION_KINDS.includes(k)) throw new Error(`instructionData: unknown kind '${k}'; expected ${INSTRUCTION_KINDS.join(', ')}`);
  }
  if (new Set(kinds).size !== kinds.length || kinds.length === 0) throw new Error(`instructionData: kinds must be distinct and not empty, got [${kinds.join(', ')}]`);
  if (options.resolution !== undefined && options.resolution !== IMAGE_SIZE && options.resolution !== LOW_RES_SIZE) {
    throw new Error(`instructionData: resolution must be ${IMAGE_SIZE} or ${LOW_RES_SIZE}, got ${options.resolution}`);
  }
  const seed = options.seed ?? 0;
  const low = options.resolution === LOW_RES_SIZE;
  const img = (im: RGBImage): DataPart => ({ image: low ? downscale2x(im) : im });
  const stories = store.stories(split);
  const scenes = store.scenes(split);
  const vocab = objectVocabulary(store.emoji, SCENE_SUBCATEGORIES);
  const byIndex = (i: number): EmojiInfo => store.emoji[i];
  const sizes = kinds.map((k) => (k === 'edit' ? scenes.length : stories.length));

  const build = (kind: InstructionKind, index: number): Example<InstructionMeta> => {
    const rand = rngFor(`instructions/${kind}/${split}/${index}`, seed);
    const id = `instructions/${kind}/${split}/${index}`;
    if (kind === 'edit') {
      const spec = scenes[index];
      const e = drawEdit(spec, vocab, byIndex, split, rand);
      const after = renderScene(e.after.objects, (i) => store.emojiImage(i));
      const parts: DataPart[] = [img(store.sceneImage(split, index)), { text: e.instruction }, img(after)];
      const meta: InstructionMeta = { kind, split, source: { set: 'scenes', index }, targetFrom: 2, scene: target(e.after.objects), edit: e.edit, instruction: e.instruction };
      return { id, parts, meta };
    }
    const frames = stories[index].frames;
    const source = { set: 'stories' as const, index };
    if (kind === 'story') {
      const k = randInt(rand, 1, frames.length - 1);
      const parts: DataPart[] = [{ text: pick(rand, STORY_LEADS) }];
      for (let f = 0; f < k; f++) parts.push({ text: frames[f].narration }, img(store.storyFrameImage(split, index, f)));
      const targetFrom = parts.length;
      parts.push({ text: frames[k].narration }, img(store.storyFrameImage(split, index, k)));
      return { id, parts, meta: { kind, split, source, targetFrom, scene: target(frames[k].objects), frame: k } };
    }
    const k = randInt(rand, 0, frames.length - 1);
    const story = frames.slice(0, k + 1).map((f) => f.narration).join(' ');
    const parts: DataPart[] = [{ text: `${pick(rand, CONTINUE_LEADS)} ${story}` }, img(store.storyFrameImage(split, index, k))];
    return { id, parts, meta: { kind, split, source, targetFrom: 1, scene: target(frames[k].objects), frame: k } };
  };

  const size = sizes.reduce((a, b) => a + b, 0);
  return new ListDataset('instructions', split, size, options.seed, (i) => {
    let j = i;
    for (let t = 0; t < kinds.length; t++) {
      if (j < sizes[t]) return build(kinds[t], j);
      j -= sizes[t];
    }
    throw new Error(`instructionData: index ${i} is outside [0, ${size})`); // unreachable: ListDataset checks i
  });
}
