/**
 * The import graph of kernel-lib/ keeps the layering README's "Layout" describes: every import (static,
 * `export … from`, dynamic `import()`, `require`, type-only ones included — a type import still ties two
 * layers together) goes to the importer's own layer or below, and there are no cycles between files or
 * between folders. Imports are read with TypeScript's own pre-processor, so comments and strings that
 * look like imports are not counted.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..', 'kernel-lib');

/**
 * Layers, bottom first: a folder may import its own layer and the layers below (cycles are checked
 * separately). The same table as README's Layout; a new folder must be placed here before it can be used.
 * Files at the top of kernel-lib/ count as folders of their own name (session.ts → `session`).
 */
const LAYERS: readonly (readonly string[])[] = [
  ['util', 'errors', 'paths'], //               random numbers, small statistics; SwitchboardError; repo paths
  ['backend', 'tokenizer', 'model'], //         wasm/cpu setup; text BPE + multimodal vocabulary; the MoE model
  ['checkpoint'], //                            safetensors, HF config, atomic directories
  ['image', 'decode'], //                       RGBImage, PNG, the VQ-VAE tokenizer; sampling and generation
  ['data', 'train', 'adapters', 'diffusion'], // data sets; the training loop and trainers; LoRA/PLoRA
  ['session'], //                               model + tokenizer + backend + adapters
  ['analysis', 'eval', 'server', 'display'], // routing analyses; CLIP/FID/scenes; widget server; notebook output
  ['recipes', 'papers'], //                     shipped models' and papers' training recipes and results
  ['cli', 'index'], //                          commands; the public surface
];

type Graph = Map<string, string[]>; // file (relative to kernel-lib/) → files it imports

/** Every module specifier `src` imports: static, re-exports, dynamic import(), require, type-only. */
function importsOf(src: string): string[] {
  return ts.preProcessFile(src, true, true).importedFiles.map((f) => f.fileName);
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The import graph of kernel-lib/ (imports of packages and of files outside kernel-lib/ are left out). */
function kernelGraph(): { graph: Graph; unresolved: string[] } {
  const graph: Graph = new Map();
  const unresolved: string[] = [];
  for (const file of sourceFiles(ROOT)) {
    const from = path.relative(ROOT, file);
    const targets: string[] = [];
    for (const spec of importsOf(fs.readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // a package
      const base = path.resolve(path.dirname(file), spec.replace(/\.js$/, ''));
      const hit = [`${base}.ts`, path.join(base, 'index.ts'), base].find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
      if (!hit) unresolved.push(`${from}: '${spec}'`);
      else if (hit.startsWith(ROOT + path.sep)) targets.push(path.relative(ROOT, hit));
    }
    graph.set(from, targets);
  }
  return { graph, unresolved };
}

function folderOf(file: string): string {
  const parts = file.split(path.sep);
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.ts$/, '');
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((l) => l.includes(folder));
}

/** Imports that go to a higher layer, as readable lines. */
function upwardImports(graph: Graph): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const [a, b] = [folderOf(from), folderOf(to)];
      if (layerOf(b) > layerOf(a)) out.push(`${from} imports ${to}: ${a}/ (layer ${layerOf(a)}) may not import ${b}/ (layer ${layerOf(b)})`);
    }
  }
  return out;
}

/** The strongly connected components with more than one node, or a node importing itself (Tarjan). */
function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** Folder → folders it imports (edges between different folders only). */
function folderGraph(graph: Graph): Graph {
  const out: Graph = new Map();
  for (const [from, targets] of graph) {
    const a = folderOf(from);
    const set = new Set(out.get(a) ?? []);
    for (const to of targets) if (folderOf(to) !== a) set.add(folderOf(to));
    out.set(a, [...set].sort());
  }
  return out;
}

const { graph, unresolved } = kernelGraph();

test('the parser sees every kind of import and nothing in comments or strings', () => {
  const src = [
    "import type { A } from './a';",
    "export type { B } from './b';",
    "export * from './c';",
    "// import { Z } from './commented';",
    "const s = \"import('./in-a-string')\";",
    "async function f() { await import('./d'); require('./e'); }",
    "let u: import('./f').F;",
  ].join('\n');
  expect(importsOf(src)).toEqual(['./a', './b', './c', './d', './e', './f']);
});

test('every relative import resolves to a file, and the graph is the real one', () => {
  expect(unresolved).toEqual([]);
  expect(graph.size).toBeGreaterThan(100);
  expect(graph.get('session.ts')).toContain(path.join('model', 'model.ts'));
});

test('every folder of kernel-lib/ has a layer', () => {
  const unplaced = [...new Set([...graph.keys()].map(folderOf))].filter((f) => layerOf(f) < 0);
  expect(unplaced).toEqual([]);
});

test('each folder imports only its own layer and the layers below', () => {
  expect(upwardImports(graph)).toEqual([]);
});

test('no file imports itself through other files', () => {
  expect(cycles(graph)).toEqual([]);
});

test('no folder imports itself through other folders', () => {
  expect(cycles(folderGraph(graph))).toEqual([]);
});

test('the checks catch a violation: an upward import and the cycles it makes', () => {
  const bad: Graph = new Map(graph);
  bad.set('image/model.ts', [...(graph.get('image/model.ts') ?? []), 'display/figures.ts']);
  const [i, d] = [layerOf('image'), layerOf('display')];
  expect(i).toBeLessThan(d);
  expect(upwardImports(bad)).toContain(`image/model.ts imports display/figures.ts: image/ (layer ${i}) may not import display/ (layer ${d})`);
  expect(cycles(folderGraph(bad)).some((c) => c.includes('image') && c.includes('display'))).toBe(true);
  const loop: Graph = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['d.ts']]]);
  expect(cycles(loop)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['d.ts']]);
});
