/**
 * Training speed guard: a 4k vocabulary on pseudo-English must train in seconds, not minutes (the
 * incremental pair counts are what make that possible). CI uses 1 MB; set TOKENIZER_BENCH_BYTES=5000000
 * to time the 5 MB case the notebooks use.
 */
import { ByteLevelBPE } from '../../kernel-lib/tokenizer';
import { pseudoEnglish } from './fixtures';

const bytes = Number(process.env.TOKENIZER_BENCH_BYTES ?? 1_000_000);

test(`trains a 4096-token vocabulary on ${bytes} bytes of pseudo-English quickly`, () => {
  const paragraphs = pseudoEnglish(bytes, 1).split('\n\n');
  const start = performance.now();
  const bpe = ByteLevelBPE.train(paragraphs, { vocabSize: 4096 });
  const seconds = (performance.now() - start) / 1000;
  const words = paragraphs.reduce((n, p) => n + p.split(' ').length, 0);
  console.log(`BPE training: 4096 tokens from ${bytes} bytes (${words} words) in ${seconds.toFixed(2)} s`);
  expect(bpe.vocabSize).toBe(4096);
  expect(seconds).toBeLessThan((30 * bytes) / 5_000_000); // generous: ~1.5 s per 5 MB on one core
});
