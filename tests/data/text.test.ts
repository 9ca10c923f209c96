/** Brown detokenisation and emoji caption templates (no cache needed). */
import { detokenize, parseBrownFile } from '../../kernel-lib/data/brown';
import { emojiCatalog, EmojiInfo } from '../../kernel-lib/data/emoji';
import { indefiniteArticle, isPlural, nameFromKeyword, withArticle } from '../../kernel-lib/data/names';

describe('Brown: strip tags and detokenise', () => {
  test.each([
    ["The/at jury/nn said/vbd ``/`` yes/rb ''/'' ./.", 'The jury said "yes".'],
    ['He/pps came/vbd ,/, saw/vbd ;/. and/cc left/vbd !/.', 'He came, saw; and left!'],
    ['a/at ratio/nn (/( 1/2/cd )/) of/in $5/nns', 'a ratio (1/2) of $5'],
    ["more/ap '/' pro/jj '/' than/in '/' con/jj '/' letters/nns", "more 'pro' than 'con' letters"],
    ['Mr./np Allen/np Jr./np ./.', 'Mr. Allen Jr.'],
    ['Let/vb **zg/nn be/be a/at curve/nn --/-- so/rb', 'Let be a curve -- so'],
    ["Atlanta's/np$ primary/nn", "Atlanta's primary"],
  ])('%s', (tagged, text) => expect(detokenize(tagged)).toBe(text));

  test('paragraphs are blank-line separated blocks of one sentence per line', () => {
    const file = '\n\n\tThe/at dog/nn ./.\nIt/pps ran/vbd ./.\n\n\n\tA/at cat/nn ./.\n\n';
    expect(parseBrownFile(file)).toEqual([['The dog.', 'It ran.'], ['A cat.']]);
  });
});

describe('emoji captions', () => {
  const catalog = emojiCatalog();
  const find = (unified: string): EmojiInfo => {
    const e = catalog.find((x) => x.unified === unified);
    if (!e) throw new Error(`no emoji ${unified}`);
    return e;
  };

  test.each([
    ['1F42F', 'an emoji of a tiger face'],
    ['1F34E', 'an emoji of a red apple'],
    ['1F1E7-1F1F7', 'the flag of Brazil'],
    ['1F1FA-1F1F8', 'the flag of the United States'],
    ['1F44D-1F3FF', 'thumbs up, dark skin tone'],
    ['1F9D1-1F3FB-200D-1F91D-200D-1F9D1-1F3FF', 'people holding hands, light skin tone, dark skin tone'],
    ['0023-FE0F-20E3', 'an emoji of a keycap #'],
    ['2728', 'an emoji of sparkles'],
    ['1F3FF', 'dark skin tone'],
  ])('%s → %s', (unified, caption) => expect(find(unified).captions[0]).toBe(caption));

  test('every image has three distinct non-empty captions, a name and a category', () => {
    for (const e of catalog) {
      expect(e.captions.length).toBe(3);
      expect(new Set(e.captions).size).toBe(3);
      for (const c of e.captions) expect(c).toMatch(/^\S.*\S$/);
      expect(e.name.length).toBeGreaterThan(0);
      expect(e.category.length).toBeGreaterThan(0);
    }
    expect(catalog.length).toBeGreaterThan(3700);
  });

  test('articles and plurals', () => {
    expect(withArticle('apple')).toBe('an apple');
    expect(withArticle('unicorn')).toBe('a unicorn');
    expect(withArticle('thumbs up')).toBe('thumbs up');
    expect(withArticle('people hugging')).toBe('people hugging');
    expect(withArticle('bus')).toBe('a bus');
    expect(withArticle('face with tears of joy')).toBe('a face with tears of joy');
    expect(withArticle('martial arts uniform')).toBe('a martial arts uniform');
    expect(isPlural('rightwards hand')).toBe(false);
    expect(indefiniteArticle('8 ball')).toBe('an');
    expect(nameFromKeyword('woman_s_hat')).toBe("woman's hat");
    expect(nameFromKeyword('seven_o_clock')).toBe("seven o'clock");
  });
});
