/**
 * MultimodalTokenizer: one vocabulary for text and images. A ByteLevelBPE covers text; an ordered table
 * of added tokens follows it (ids continue from the BPE's vocabSize): <bos> <eos> <pad> always, and with
 * an image vocabulary <boi> <eoi> <img>, the image codes <img_0>… of a VQ image tokenizer, and vokens
 * [IMG1]…. The full id layout is in added-tokens.ts.
 *
 * Specials never come from text: "<bos>" typed in a text part is encoded as ordinary text. Structure
 * (bos, image boundaries) comes only from the prompt's parts, so user text cannot forge it.
 */
import { ByteLevelBPE } from './bpe';
import { TokenizerJson } from './hf-json';
import {
  addedTokenNames,
  checkImageOptions,
  checkLayout,
  IMAGE_CODE_OFFSET,
  ImageGrid,
  ImageVocabulary,
  layoutOf,
  parseAddedTokens,
  TokenizerLayout,
} from './added-tokens';
import {
  checkImage,
  EncodedPrompt,
  ImageCodes,
  Modality,
  NO_IMAGES,
  partKind,
  Prompt,
  PromptPart,
  promptParts,
} from './prompt';

export interface ImageVocabularyOptions {
  numImageCodes: number;
  grid: ImageGrid;
  /** Default 0. */
  numVokens?: number;
}

export class MultimodalTokenizer {
  /** Added-token names in id order, starting at textVocabSize. */
  private readonly names: readonly string[];
  private readonly nameToId: ReadonlyMap<string, number>;

  private constructor(
    readonly bpe: ByteLevelBPE,
    private readonly image: ImageVocabulary | null,
    /** Whether <unconditional> is the last added token. */
    readonly hasUnconditional = false,
  ) {
    this.names = addedTokenNames(image, hasUnconditional);
    this.nameToId = new Map(this.names.map((name, i) => [name, bpe.vocabSize + i]));
  }

  /** <bos> <eos> <pad> after the BPE vocabulary; no images. */
  static createTextOnly(bpe: ByteLevelBPE): MultimodalTokenizer {
    return new MultimodalTokenizer(bpe, null);
  }

  /** Shorthand for createTextOnly(bpe).extendWithImages(options). */
  static create(bpe: ByteLevelBPE, options: ImageVocabularyOptions): MultimodalTokenizer {
    return MultimodalTokenizer.createTextOnly(bpe).extendWithImages(options);
  }

  /** A new tokenizer with the image vocabulary appended; every existing id keeps its meaning. */
  extendWithImages(options: ImageVocabularyOptions): MultimodalTokenizer {
    if (this.image !== null) throw new Error('extendWithImages: this tokenizer already has an image vocabulary');
    if (this.hasUnconditional) {
      throw new Error('extendWithImages: this tokenizer has <unconditional>, which would change id; add the image vocabulary first, then withUnconditional()');
    }
    return new MultimodalTokenizer(this.bpe, checkImageOptions(options));
  }

  /**
   * A new tokenizer with Liquid's <unconditional> token appended as the last id (vocabSize grows by
   * one); every existing id keeps its meaning, so a model grows by one embedding row and head column.
   */
  withUnconditional(): MultimodalTokenizer {
    if (this.hasUnconditional) throw new Error('withUnconditional: this tokenizer already has <unconditional>');
    return new MultimodalTokenizer(this.bpe, this.image, true);
  }

  /** Id of <unconditional> (see withUnconditional). */
  get unconditional(): number {
    if (!this.hasUnconditional) throw new Error('this tokenizer has no <unconditional> token; call withUnconditional first');
    return this.vocabSize - 1;
  }

  get vocabSize(): number {
    return this.bpe.vocabSize + this.names.length;
  }
  /** BPE tokens only: ids below this are text. */
  get textVocabSize(): number {
    return this.bpe.vocabSize;
  }
  get bos(): number {
    return this.textVocabSize;
  }
  get eos(): number {
    return this.textVocabSize + 1;
  }
  get pad(): number {
    return this.textVocabSize + 2;
  }
  get hasImages(): boolean {
    return this.image !== null;
  }
  get boi(): number {
    this.requireImages();
    return this.textVocabSize + 3;
  }
  get eoi(): number {
    this.requireImages();
    return this.textVocabSize + 4;
  }
  /** Placeholder for "an image goes here" (e.g. where an encoder's features will be spliced in). */
  get img(): number {
    this.requireImages();
    return this.textVocabSize + 5;
  }
  /** 0 without an image vocabulary. */
  get numImageCodes(): number {
    return this.image?.numImageCodes ?? 0;
  }
  get numVokens(): number {
    return this.image?.numVokens ?? 0;
  }
  get imageGrid(): ImageGrid {
    const { grid } = this.requireImages();
    return { height: grid.height, width: grid.width };
  }

  /** Token id of image code `code`. */
  imageCodeId(code: number): number {
    const { numImageCodes } = this.requireImages();
    if (!Number.isInteger(code)) throw new Error(`image code ${code} is not an integer`);
    if (code < 0 || code >= numImageCodes) throw new Error(`image code ${code} is outside [0, ${numImageCodes})`);
    return this.imageCodeStart + code;
  }

  /** The image code a token id stands for, or -1 when it is not an image code. */
  codeOf(id: number): number {
    return this.isImageCode(id) ? id - this.imageCodeStart : -1;
  }

  isImageCode(id: number): boolean {
    return Number.isInteger(id) && id >= this.imageCodeStart && id < this.imageCodeStart + this.numImageCodes;
  }

  /** Token id of voken [IMGn]; n counts from 1 like the token names. */
  vokenId(n: number): number {
    if (this.numVokens === 0) throw new Error('this tokenizer has no vokens');
    if (!Number.isInteger(n) || n < 1 || n > this.numVokens) {
      throw new Error(`voken ${n} is outside [1, ${this.numVokens}]`);
    }
    return this.imageCodeStart + this.numImageCodes + n - 1;
  }

  /** Vokens, <boi>/<eoi>/<img> and <bos>/<eos>/<pad> are all 'special'. */
  modalityOf(id: number): Modality {
    this.checkId(id, 'modalityOf');
    if (id < this.textVocabSize) return 'text';
    return this.isImageCode(id) ? 'image' : 'special';
  }

  /** Display string: a text token's decoded text (U+FFFD for part of a character), else its name. */
  pieceOf(id: number): string {
    this.checkId(id, 'pieceOf');
    return id < this.textVocabSize ? this.bpe.decode([id]) : this.names[id - this.textVocabSize];
  }

  /** Id of an added token by name: "<eos>", "<img_17>", "[IMG1]", …. */
  specialId(name: string): number {
    const id = this.nameToId.get(name);
    if (id === undefined) throw new Error(`specialId: no added token named ${JSON.stringify(name)}`);
    return id;
  }

  /**
   * Token ids of a prompt, with each token's modality and, for image codes, its grid position. An image
   * becomes <boi>, its height·width codes row-major, <eoi>. With addBos (default) <bos> comes first.
   * An encoding with no tokens at all (`[]` or `""` without addBos) throws "prompt is empty": there is
   * nothing a model could be run on; with addBos it is just [<bos>].
   */
  encodePrompt(prompt: Prompt, { addBos = true }: { addBos?: boolean } = {}): EncodedPrompt {
    const out: EncodedPrompt = { ids: [], modalities: [], grid: [] };
    const special = (id: number): void => {
      out.ids.push(id);
      out.modalities.push('special');
      out.grid.push(null);
    };
    if (addBos) special(this.bos);
    let images = 0;
    promptParts(prompt).forEach((part, p) => {
      if (partKind(part, p) === 'text') {
        for (const id of this.bpe.encode((part as { text: string }).text)) {
          out.ids.push(id);
          out.modalities.push('text');
          out.grid.push(null);
        }
        return;
      }
      const image = checkImage((part as { image: unknown }).image, p, this.numImageCodes);
      special(this.boi);
      image.codes.forEach((code, i) => {
        out.ids.push(this.imageCodeStart + code);
        out.modalities.push('image');
        out.grid.push({ image: images, row: Math.floor(i / image.width), col: i % image.width });
      });
      special(this.eoi);
      images++;
    });
    if (out.ids.length === 0) throw new Error('prompt is empty');
    return out;
  }

  /**
   * Inverse of encodePrompt. Runs of text tokens become text parts; <bos>/<eos>/<pad> are dropped;
   * vokens, <img> and image codes or <eoi> outside an image appear in the text as their names.
   * <boi> codes <eoi> becomes an image part, shaped by the tokenizer's grid when the count is
   * height·width and 1×count otherwise. An image cut short (a token that is not a code, or the end of
   * the ids, before <eoi>) ends where its codes stop, since generated ids need not be well formed.
   * Round trip: decodeIds(encodePrompt(p).ids) equals p for prompts without empty or adjacent text
   * parts whose images have the tokenizer's grid.
   */
  decodeIds(ids: ArrayLike<number>): PromptPart[] {
    const V = this.textVocabSize;
    const parts: PromptPart[] = [];
    let pending: number[] = []; // BPE ids not yet decoded: a character may span several tokens
    let text = '';
    let codes: number[] | null = null; // inside <boi> … <eoi>
    const endText = (): void => {
      text += this.bpe.decode(pending);
      pending = [];
      if (text !== '') parts.push({ text });
      text = '';
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.checkId(id, 'decodeIds', i);
      if (codes !== null) {
        if (this.isImageCode(id)) {
          codes.push(id - this.imageCodeStart);
          continue;
        }
        parts.push({ image: this.shape(codes) });
        codes = null;
        if (id === this.eoi) continue;
      }
      if (id < V) {
        pending.push(id);
      } else if (this.image !== null && id === this.boi) {
        endText();
        codes = [];
      } else if (id !== this.bos && id !== this.eos && id !== this.pad) {
        text += this.bpe.decode(pending) + this.names[id - V];
        pending = [];
      }
    }
    if (codes !== null) parts.push({ image: this.shape(codes) });
    endText();
    return parts;
  }

  /** tokenizer.json: the BPE plus every added token, all marked special. */
  toHF(): TokenizerJson {
    const json = this.bpe.toHF();
    json.added_tokens = this.names.map((content, i) => ({
      id: this.textVocabSize + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }));
    return json;
  }

  /** Where each range of ids starts; stored in the checkpoint config's `switchboard` block. */
  layout(): TokenizerLayout {
    return layoutOf(this.textVocabSize, this.numImageCodes, this.numVokens, this.image?.grid ?? null, this.hasUnconditional);
  }

  /**
   * Loads tokenizer.json, checking its added_tokens against the table in added-tokens.ts, and the
   * layout (when given) field by field. The image grid is not in tokenizer.json, so a tokenizer with
   * images needs the layout.
   */
  static fromHF(json: unknown, layout?: TokenizerLayout): MultimodalTokenizer {
    const bpe = ByteLevelBPE.fromHF(json);
    const { numImageCodes, numVokens, unconditional } = parseAddedTokens(
      (json as { added_tokens?: unknown }).added_tokens,
      bpe.vocabSize,
    );
    const expected = layoutOf(bpe.vocabSize, numImageCodes, numVokens, null, unconditional);
    const grid = layout === undefined ? null : checkLayout(expected, layout);
    const grown = (t: MultimodalTokenizer): MultimodalTokenizer => (unconditional ? t.withUnconditional() : t);
    if (numImageCodes === 0) return grown(MultimodalTokenizer.createTextOnly(bpe));
    if (grid === null) {
      throw new Error(
        'tokenizer.json has an image vocabulary but no layout was given; the image grid is stored only ' +
          'in the layout (the checkpoint config\'s "switchboard" block)',
      );
    }
    return grown(MultimodalTokenizer.create(bpe, { numImageCodes, grid, numVokens }));
  }

  private get imageCodeStart(): number {
    return this.image === null ? this.vocabSize : this.textVocabSize + IMAGE_CODE_OFFSET;
  }

  private requireImages(): ImageVocabulary {
    if (this.image === null) throw new Error(NO_IMAGES);
    return this.image;
  }

  private checkId(id: number, caller: string, index?: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      const at = index === undefined ? '' : ` at index ${index}`;
      throw new Error(`${caller}: id ${id}${at} is not a token id in [0, ${this.vocabSize})`);
    }
  }

  private shape(codes: number[]): ImageCodes {
    const { height, width } = this.requireImages().grid;
    return codes.length === height * width ? { height, width, codes } : { height: 1, width: codes.length, codes };
  }
}
