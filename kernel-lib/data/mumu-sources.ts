/**
 * Other-source crops for MUMU's harmonisation tests (Finding 2, Fig. 6): the model is trained only on
 * crops cut from the target scene; these prompts give it pictures from elsewhere and ask for one coherent
 * scene. Sources:
 *
 *   emoji          each object's full-size 32×32 emoji image (not shrunk, not from any scene);
 *   shifted-emoji  the same, colour-shifted (channels rotated R,G,B → G,B,R: a 120° hue turn);
 *   two-scenes     two objects cut from two *different* scenes of the split (object a of scene i, object b of
 *                  scene j ≠ i, their pair allowed in the split: train or the split's own), laid out anew by
 *                  the scene generator (layoutScene) — the target is its rendering of that new spec.
 *
 * Prompts are built by the same builder as mumuPrompts (same generic-word and augmentation rules), so only
 * the crops' source differs. The target's spec (`meta.scene`) is what the scene checker scores.
 */
import { rotateChannels } from './augment';
import { cropImage } from '../image/rgb';
import { EmojiInfo } from './emoji';
import { Example, ExampleList, ListDataset } from './example-list';
import { buildMumuPrompt, checkMumuOptions, CropInput, CropSource, MumuMeta, MumuOptions } from './mumu-prompts';
import { IMAGE_SIZE } from './image';
import { pairSplit } from './objects';
import { pick, rngFor } from '../util/random';
import { layoutScene, renderScene } from './scenes';
import { DataStore } from './store';

export const OTHER_SOURCES: readonly CropSource[] = ['emoji', 'shifted-emoji', 'two-scenes'];
const WHOLE = { x: 0, y: 0, w: IMAGE_SIZE, h: IMAGE_SIZE };

/** Harmonisation prompts of a split, one per scene, with crops from `source` (see the file comment). */
export function harmonisationPrompts(store: DataStore, source: CropSource, options: MumuOptions = {}): ExampleList<MumuMeta> {
  checkMumuOptions(options, 'harmonisationPrompts');
  if (!OTHER_SOURCES.includes(source)) throw new Error(`harmonisationPrompts: source must be one of ${OTHER_SOURCES.join(', ')}, got '${source}'`);
  const split = options.split ?? 'train';
  const specs = store.scenes(split);
  if (source === 'two-scenes' && specs.length < 2) throw new Error(`harmonisationPrompts: 'two-scenes' needs at least 2 scenes in ${split}, got ${specs.length}`);
  const byIndex = (i: number): EmojiInfo => store.emoji[i];
  return new ListDataset(`harmonise-${source}`, split, specs.length, options.seed, (i): Example<MumuMeta> => {
    const id = `harmonise/${source}/${split}/${i}`;
    if (source !== 'two-scenes') {
      const spec = specs[i];
      const crops: CropInput[] = spec.objects.map((o) => {
        const full = store.emojiImage(o.emoji);
        return { image: source === 'emoji' ? { ...full, pixels: full.pixels.slice() } : rotateChannels(full), box: WHOLE };
      });
      const p = buildMumuPrompt(id, spec, crops, byIndex, options);
      return { id, parts: p.parts, meta: { split, index: i, sources: [i], source, generic: p.generic, caption: p.caption, crops: p.crops, scene: spec, target: store.sceneImage(split, i) } };
    }
    const rand = rngFor(id, options.seed ?? 0);
    const a = pick(rand, specs[i].objects);
    // Scenes after i, in a seeded rotation, until one has an object that may stand beside a.
    const start = 1 + Math.floor(rand() * (specs.length - 1));
    for (let t = 0; t < specs.length - 1; t++) {
      const j = (i + start + t) % specs.length;
      if (j === i) continue;
      const options2 = specs[j].objects.filter((b) => b.name !== a.name && [split, 'train'].includes(pairSplit(a.base, b.base)));
      if (options2.length === 0) continue;
      const b = pick(rand, options2);
      const spec = layoutScene([byIndex(a.emoji), byIndex(b.emoji)], rand);
      const crops: CropInput[] = [
        { image: cropImage(store.sceneImage(split, i), a.box), box: a.box },
        { image: cropImage(store.sceneImage(split, j), b.box), box: b.box },
      ];
      const p = buildMumuPrompt(id, spec, crops, byIndex, options);
      const target = renderScene(spec.objects, (k) => store.emojiImage(k));
      return { id, parts: p.parts, meta: { split, index: i, sources: [i, j], source, generic: p.generic, caption: p.caption, crops: p.crops, scene: spec, target } };
    }
    throw new Error(`harmonisationPrompts: no scene of ${split} has an object that may stand beside the ${a.name}`);
  });
}
