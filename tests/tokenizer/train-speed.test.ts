/**
 * Training cost guard: a 4k vocabulary on pseudo-English must train in seconds, not minutes (the
 * incremental pair counts are what make that possible; recounting pairs per merge takes minutes).
 * Measured as this process's CPU time, not wall time, so other work on the machine does not fail it.
 * CI uses 1 MB; set TOKENIZER_BENCH_BYTES=5000000 to time the 5 MB case the notebooks use.
 */
import { ByteLevelBPE } from '../../kernel-lib/tokenizer';
import { pseudoEnglish } from './fixtures';

const bytes = Number(process.env.TOKENIZER_BENCH_BYTES ?? 1_000_000);

test(`trains a 4096-token vocabulary on ${bytes} bytes of pseudo-English in seconds of CPU time`, () => {
  const paragraphs = pseudoEnglish(bytes, 1).split('\n\n');
  const start = process.cpuUsage();
  const bpe = ByteLevelBPE.train(paragraphs, { vocabSize: 4096 });
  const used = process.cpuUsage(start);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const words = paragraphs.reduce((n, p) => n + p.split(' ').length, 0);
  console.log(`BPE training: 4096 tokens from ${bytes} bytes (${words} words) in ${cpuSeconds.toFixed(2)} s of CPU`);
  expect(bpe.vocabSize).toBe(4096);
  expect(cpuSeconds).toBeLessThan((30 * bytes) / 5_000_000); // generous: ~1.5 s per 5 MB on one core
});
