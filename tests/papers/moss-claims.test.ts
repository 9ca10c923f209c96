/**
 * The MoSS verdicts (papers/moss-…/claims.ts) on hand-made numbers: the paired comparison computed by hand,
 * each claim's criterion (more than 2 s.e., every seed, enough seeds), and the paper's numbers quoted.
 */
import { moss } from '../../kernel-lib';
import { mulberry32 } from '../../kernel-lib/util/random';

test('compare: per-item seed means, their paired mean and s.e., each seed’s own mean; items without a score left out', () => {
  const c = moss.compare([[1, 2, 3], [3, 4, 5]], [[0, 0, 0], [0, 0, 0]]);
  // per item: 2, 3, 4 → mean 3, s.d. 1, s.e. 1/√3; seed 0: 2, seed 1: 4
  expect(c.mean).toBeCloseTo(3, 12);
  expect(c.standardError).toBeCloseTo(1 / Math.sqrt(3), 12);
  expect(c.perSeed).toEqual([2, 4]);
  expect(c.items).toBe(3);
  expect(c.seeds).toBe(2);
  const gap = moss.compare([[1, NaN, 3, 5]], [[0, 0, 0, 0]]);
  expect(gap.items).toBe(3);
  expect(gap.mean).toBeCloseTo(3, 12);
  expect(() => moss.compare([[1, 2]], [[1, 2], [1, 2]])).toThrow('moss.compare: the arms have 1 and 2 seeds; pair seed k with seed k');
  expect(() => moss.compare([[1, 2]], [[1, 2, 3]])).toThrow('moss.compare: seed row 1 has 3 items, the first has 2; every arm and seed must score the same items');
  expect(() => moss.compare([[1, NaN]], [[1, 2]], 'Table 2')).toThrow('Table 2: needs at least 2 items scored by both arms, got 1');
  expect(() => moss.compare([], [[1]])).toThrow('moss.compare: an arm has no seeds');
});

const ITEMS = 40;
/** [seed][item]: item difficulty + arm offset + noise of size `noise` (seeded), optionally a per-seed shift. */
function arm(offset: number, o: { seeds?: number; noise?: number; seedShift?: number[]; key?: number } = {}): number[][] {
  const S = o.seeds ?? 3;
  const difficulty = Array.from({ length: ITEMS }, (_, i) => 3 + Math.sin(i)); // shared by every arm: pairing removes it
  return Array.from({ length: S }, (_, k) => {
    const rand = mulberry32(1000 * (o.key ?? 0) + k);
    return difficulty.map((d) => d + offset + (o.seedShift?.[k] ?? 0) + (o.noise ?? 0.02) * (rand() - 0.5));
  });
}
const scores = (image: number[][], text?: number[][]): moss.ArmScores => ({ image, text: text ?? image });

function table2(o: { moss?: number[][]; moe?: number[][]; lora?: number[][]; matched?: number[][]; text?: Partial<Record<'moss' | 'moe' | 'lora', number[][]>> } = {}): moss.Numbers['table2'] {
  return {
    moss: scores(o.moss ?? arm(-0.3, { key: 1 }), o.text?.moss ?? arm(-0.2, { key: 11 })),
    'moe-lora': scores(o.moe ?? arm(-0.15, { key: 2 }), o.text?.moe ?? arm(-0.1, { key: 12 })),
    lora: scores(o.lora ?? arm(0, { key: 3 }), o.text?.lora ?? arm(0, { key: 13 })),
    'moe-lora-matched': scores(o.matched ?? arm(-0.16, { key: 4 }), arm(-0.1, { key: 14 })),
  };
}
const byClaim = (vs: moss.Verdict[], start: string) => {
  const v = vs.find((x) => x.claim.startsWith(start));
  if (!v) throw new Error(`no verdict starting '${start}' in ${vs.map((x) => x.claim).join(' | ')}`);
  return v;
};

test('Table 2: image and text ordering, the parameter-matched arm; the paper’s numbers quoted', () => {
  const vs = moss.verdicts({ table2: table2(), params: { moss: 114688, 'moe-lora-matched': 114688, 'moe-lora': 65536 } });
  expect(vs.map((v) => v.reproduces)).toEqual([true, true, true]);
  const img = byClaim(vs, 'Table 2: MoSS draws images better');
  expect(img.paper).toContain('image quality 3.62 / 3.28 / 2.38');
  expect(img.paper).toContain('image coherence 3.41 / 2.66 / 1.99');
  expect(img.ours).toMatch(/^held-out image-code NLL \(nats per code\), MoSS − MoE-LoRA -0\.150 ± 0\.00\d \(s\.e\., 40 items, 3 seeds; per seed /);
  expect(img.criterion).toContain('at least 3 seeds per arm');
  expect(byClaim(vs, 'MoSS’s image advantage is not its size').ours).toContain('(adapter weights: MoSS 114688, matched MoE-LoRA 114688, MoE-LoRA 65536)');
  expect(byClaim(vs, 'Table 2: MoSS writes text').paper).toBe('text quality 2.61 / 1.98 / 1.77 (MoSS / MoE-LoRA / LoRA)');
});

test('Table 2 is not reproduced: a tie, one seed the other way, too few seeds, noise larger than the effect', () => {
  const tie = moss.verdicts({ table2: table2({ matched: arm(-0.3, { key: 5 }) }) });
  expect(byClaim(tie, 'MoSS’s image advantage').reproduces).toBe(false);
  expect(byClaim(tie, 'Table 2: MoSS draws').reproduces).toBe(true);
  // seed shifts −0.1, −0.1, +0.3: MoSS − MoE-LoRA is −0.117 over the seeds (far beyond 2 s.e.), but +0.15 in seed 2
  const flipped = moss.verdicts({ table2: table2({ moss: arm(-0.3, { key: 1, seedShift: [-0.1, -0.1, 0.3] }) }) });
  const f = byClaim(flipped, 'Table 2: MoSS draws');
  expect(moss.compare(arm(-0.3, { key: 1, seedShift: [-0.1, -0.1, 0.3] }), arm(-0.15, { key: 2 })).mean).toBeLessThan(-0.05);
  expect(f.reproduces).toBe(false);
  // two seeds: not enough for a verdict unless the caller says so
  const two = { moss: arm(-0.3, { seeds: 2, key: 1 }), moe: arm(-0.15, { seeds: 2, key: 2 }), lora: arm(0, { seeds: 2, key: 3 }), matched: arm(-0.15, { seeds: 2, key: 4 }), text: { moss: arm(-0.2, { seeds: 2 }), moe: arm(-0.1, { seeds: 2 }), lora: arm(0, { seeds: 2 }) } };
  expect(byClaim(moss.verdicts({ table2: { ...table2(two), 'moe-lora-matched': scores(two.matched, arm(0, { seeds: 2 })) } }), 'Table 2: MoSS draws').reproduces).toBe(false);
  expect(byClaim(moss.verdicts({ table2: { ...table2(two), 'moe-lora-matched': scores(two.matched, arm(0, { seeds: 2 })) }, minSeeds: 2 }), 'Table 2: MoSS draws').reproduces).toBe(true);
  // an effect of 0.01 in noise of 1: within 2 s.e.
  const noisy = moss.verdicts({ table2: table2({ moss: arm(-0.02, { key: 1, noise: 2 }), moe: arm(-0.01, { key: 2, noise: 2 }) }) });
  expect(byClaim(noisy, 'Table 2: MoSS draws').reproduces).toBe(false);
  expect(() => moss.verdicts({ table2: table2(), minSeeds: 0 })).toThrow('moss.verdicts: minSeeds must be a positive integer, got 0');
});

test('Fig. 5: ahead at every rank; the lead grows from the smallest to the largest rank', () => {
  const at = (rank: number, lead: number) => ({ rank, moss: scores(arm(-lead, { key: rank })), 'moe-lora': scores(arm(-lead / 3, { key: rank + 1 })), lora: scores(arm(0, { key: rank + 2 })) });
  const growing = moss.verdicts({ table2: table2(), ranks: [at(32, 0.4), at(4, 0.1), at(8, 0.15), at(16, 0.3)] });
  expect(byClaim(growing, 'Fig. 5: MoSS beats').reproduces).toBe(true);
  const g = byClaim(growing, 'Fig. 5: MoSS’s advantage grows');
  expect(g.reproduces).toBe(true);
  expect(g.ours).toContain('at r = 4 minus at r = 32');
  expect(g.paper).toContain('0.17 / 0.19 / 0.34');
  const flat = moss.verdicts({ table2: table2(), ranks: [at(4, 0.2), at(32, 0.2)] });
  expect(byClaim(flat, 'Fig. 5: MoSS beats').reproduces).toBe(true);
  expect(byClaim(flat, 'Fig. 5: MoSS’s advantage grows').reproduces).toBe(false);
  const behind = moss.verdicts({ table2: table2(), ranks: [at(4, -0.1), at(32, 0.4)] }); // at r = 4 MoSS is behind
  expect(byClaim(behind, 'Fig. 5: MoSS beats').reproduces).toBe(false);
  expect(() => moss.verdicts({ table2: table2(), ranks: [at(8, 0.1)] })).toThrow('moss.verdicts: the rank curve needs at least 2 ranks, got 1');
  expect(() => moss.verdicts({ table2: table2(), ranks: [at(8, 0.1), at(8, 0.2)] })).toThrow('moss.verdicts: ranks repeat (8, 8)');
});

test('Table 10, Table 12, C.3 and the drawn-scene check', () => {
  const vs = moss.verdicts({
    table2: table2(),
    table10: { moss: scores(arm(-0.3, { key: 1 })), 'sam-convlora': scores(arm(-0.2, { key: 7 })) },
    table12: { moss: scores(arm(-0.3, { key: 1 }), arm(-0.2, { key: 11 })), full: scores(arm(-0.1, { key: 8 }), arm(-0.5, { key: 18 })) },
    decodeMs: { lora: 100, moss: 130 },
    scene: { moss: arm(0.6, { key: 21 }), 'moe-lora': arm(0.4, { key: 22 }), lora: arm(0.2, { key: 23 }) },
  });
  expect(byClaim(vs, 'Table 10').reproduces).toBe(true);
  expect(byClaim(vs, 'Table 10').paper).toBe('image quality 3.62 vs 3.33, image coherence 3.41 vs 3.17 (MoSS-ConvLoRA vs SAM-ConvLoRA, equal rank)');
  expect(byClaim(vs, 'Table 12: full fine-tuning writes better text').reproduces).toBe(true);
  expect(byClaim(vs, 'Table 12: full fine-tuning draws worse images').reproduces).toBe(true);
  expect(byClaim(vs, 'C.3').reproduces).toBe(true);
  expect(byClaim(vs, 'Table 2 (image coherence)').reproduces).toBe(true);
  // full fine-tuning that also draws better: the image half of Table 12 fails
  const better = moss.verdicts({ table2: table2(), table12: { moss: scores(arm(-0.3, { key: 1 })), full: scores(arm(-0.5, { key: 8 })) } });
  expect(byClaim(better, 'Table 12: full fine-tuning draws worse images').reproduces).toBe(false);
  expect(moss.decodeVerdict({ lora: 100, moss: 140 }).reproduces).toBe(false);
  expect(moss.decodeVerdict({ lora: 4380, moss: 5910 }).reproduces).toBe(true); // the paper's own ratio passes
  expect(moss.decodeVerdict({ lora: 4380, moss: 5910 }).ours).toBe('4380 ms vs 5910 ms per image (LoRA vs MoSS, cached step decoding): ×1.35');
  expect(() => moss.decodeVerdict({ lora: 0, moss: 1 })).toThrow('moss.decodeVerdict: milliseconds per image must be positive, got LoRA 0, MoSS 1');
  // scene: more objects in place is better; MoSS behind MoE-LoRA fails
  const scene = moss.verdicts({ table2: table2(), scene: { moss: arm(0.4, { key: 21 }), 'moe-lora': arm(0.5, { key: 22 }), lora: arm(0.2, { key: 23 }) } });
  expect(byClaim(scene, 'Table 2 (image coherence)').reproduces).toBe(false);
});
