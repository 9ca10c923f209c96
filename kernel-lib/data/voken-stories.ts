/**
 * Story items for MiniGPT-5's fine-tuning stage (its VIST stand-in; §3.3, Table 6), templated from the
 * project's stories and split as they are. An item is the frames of a story before frame k (its context)
 * followed by what the model must produce about frame k, in one of the paper's three task types:
 *
 *   text        given frame k's image, write its narration        prompt … image_k | narration_k
 *   image       given frame k's narration, draw its image         prompt … narration_k | image_k
 *   text-image  write frame k's narration and draw its image      prompt … | narration_k image_k
 *
 * A context frame is its narration then its image ('image-text', what training uses); Table 6's
 * conditions keep only the narrations ('text'), only the images ('image'), or nothing ('none'). A target
 * image is drawn through the vokens by the diffusion decoder; context images are read as image codes.
 * Earlier frames carry what the last narration omits (the other objects and where they are), so context
 * should help drawing the last frame.
 *
 * `meta.targetFrom` is the index of the first target part and `meta.targetImage` the index of the target
 * image part (−1 for the text task). Every choice is drawn from a stream named by (split, index, seed).
 */
import { DataPart, Example, ExampleList, ListDataset } from './example-list';
import { Split, SPLITS } from './emoji';
import type { TargetScene } from './instructions';
import { pick, randInt, rngFor } from '../util/random';
import type { DataStore } from './store';

export const STORY_TASKS = ['text', 'image', 'text-image'] as const;
export type StoryTask = (typeof STORY_TASKS)[number];
export const STORY_CONTEXTS = ['none', 'text', 'image', 'image-text'] as const;
export type StoryContextKind = (typeof STORY_CONTEXTS)[number];

/** What the items are read from: the data store, or a stand-in with the same two methods. */
export type StorySource = Pick<DataStore, 'stories' | 'storyFrameImage'>;

export interface VokenStoryMeta {
  task: StoryTask;
  context: StoryContextKind;
  split: Split;
  story: number;
  /** The frame the target is about. */
  frame: number;
  targetFrom: number;
  /** Index in `parts` of the target image (generated), −1 when the target has none. */
  targetImage: number;
  /** Ground truth of frame k's image for the scene checker. */
  scene: TargetScene;
}

/** The parts of one item: context frames 0..k−1 as `context` says, then the task's prompt and target about frame k. */
export function storyItem(store: StorySource, split: Split, index: number, frame: number, task: StoryTask, context: StoryContextKind): Example<VokenStoryMeta> {
  if (!STORY_TASKS.includes(task)) throw new Error(`storyItem: task must be one of ${STORY_TASKS.join(', ')}, got '${String(task)}'`);
  if (!STORY_CONTEXTS.includes(context)) throw new Error(`storyItem: context must be one of ${STORY_CONTEXTS.join(', ')}, got '${String(context)}'`);
  const frames = store.stories(split)[index].frames;
  if (!Number.isInteger(frame) || frame < 0 || frame >= frames.length) throw new Error(`storyItem: story ${index} has frames 0..${frames.length - 1}, got ${frame}`);
  const image = (f: number): DataPart => ({ image: store.storyFrameImage(split, index, f) });
  const parts: DataPart[] = [];
  for (let f = 0; f < frame; f++) {
    if (context === 'text' || context === 'image-text') parts.push({ text: frames[f].narration });
    if (context === 'image' || context === 'image-text') parts.push(image(f));
  }
  const narration: DataPart = { text: frames[frame].narration };
  if (task === 'image') parts.push(narration);
  if (task === 'text') parts.push(image(frame));
  const targetFrom = parts.length;
  if (task !== 'image') parts.push(narration);
  if (task !== 'text') parts.push(image(frame));
  const scene = { objects: frames[frame].objects.map((o) => ({ emoji: o.emoji, name: o.name, box: { ...o.box }, region: o.region })) };
  const meta: VokenStoryMeta = { task, context, split, story: index, frame, targetFrom, targetImage: task === 'text' ? -1 : parts.length - 1, scene };
  return { id: `voken-stories/${split}/${index}/${frame}/${task}/${context}`, parts, meta };
}

export interface VokenStoryOptions {
  split?: Split;
  /** Seeds the choices (frame, task); default 0. */
  seed?: number;
  /** Which tasks items are drawn from (default all three, uniformly). */
  tasks?: readonly StoryTask[];
}

/**
 * The fine-tuning set of a split: one item per story, frame k drawn in [1, frames − 1] (so there is always
 * context) and the task drawn from `tasks`, with full (image-text) context, as the paper fine-tunes.
 */
export function vokenStories(store: StorySource, o: VokenStoryOptions = {}): ExampleList<VokenStoryMeta> {
  const split = o.split ?? 'train';
  if (!SPLITS.includes(split)) throw new Error(`vokenStories: split must be one of ${SPLITS.join(', ')}, got '${split}'`);
  const tasks = o.tasks ?? STORY_TASKS;
  if (tasks.length === 0 || tasks.some((t) => !STORY_TASKS.includes(t))) throw new Error(`vokenStories: tasks must be a non-empty list of ${STORY_TASKS.join(', ')}, got [${tasks.join(', ')}]`);
  const seed = o.seed ?? 0;
  const stories = store.stories(split);
  return new ListDataset('voken-stories', split, stories.length, undefined, (i) => {
    const rand = rngFor(`voken-stories/${split}/${i}`, seed);
    const frame = randInt(rand, 1, stories[i].frames.length - 1);
    return storyItem(store, split, i, frame, pick(rand, tasks), 'image-text');
  });
}

/** Table 6's held-out items: the last frame of each of the first `count` stories, drawn (task 'image') under one context condition. */
export function lastFrameItems(store: StorySource, o: { split: Split; context: StoryContextKind; count?: number }): Example<VokenStoryMeta>[] {
  if (o.split === 'train') throw new Error("lastFrameItems: split must be 'val' or 'test' (held out), got 'train'");
  const stories = store.stories(o.split);
  const n = Math.min(o.count ?? stories.length, stories.length);
  return Array.from({ length: n }, (_, i) => storyItem(store, o.split, i, stories[i].frames.length - 1, 'image', o.context));
}
