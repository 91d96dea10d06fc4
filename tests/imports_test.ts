// The import graph of the production files (mod.ts and the CLIs at the root, src/, studio/,
// scripts/): no `_` file is imported from outside its folder (its module under src/, a parent's
// own helpers such as src/_random.ts excepted), layers point down (data ← model ← engine ←
// train/sample/io/inspect ← cli ← the root ← studio ← scripts), there is no import circle
// between folders, and none between files. Benches and tests may reach internals.

import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Each folder's layer: a folder imports its own layer and those below, never one above. */
const LAYERS: Record<string, number> = {
  "build": 0, // generated: the compiled cores and the browser bundle
  "src": 0, // the helpers of every src/ folder (src/_random.ts, src/_base64.ts)
  "src/plot": 1, // the loss chart (plain JS the studio loads as it is): imports nothing
  "src/data": 1,
  "src/model": 2,
  "src/engine": 3,
  "src/train": 4,
  "src/sample": 4,
  "src/io": 4,
  "src/inspect": 4,
  "src/cli": 5,
  "src/browser": 5,
  ".": 6,
  "studio": 7,
  "scripts": 8,
};

/** Every production source file, relative to the root. */
function productionFiles(): string[] {
  const files = [...Deno.readDirSync(ROOT)]
    .filter((e) => e.isFile && /\.ts$/.test(e.name))
    .map((e) => e.name);
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(join(ROOT, dir))) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) walk(path);
      else if (/\.(ts|js)$/.test(e.name)) files.push(path);
    }
  };
  for (const dir of ["src", "studio", "scripts"]) walk(dir);
  return files.sort();
}

/** One file's use of another: `import` (static, dynamic, re-export, JSDoc type) or `url`. */
interface Edge {
  file: string;
  target: string;
  /** `url`: a `new URL(…, import.meta.url)`, a worker's script (a module graph of its own). */
  kind: "import" | "url";
}

/**
 * What `file` imports, relative to the root: relative specifiers only, and only those that name
 * a file (a URL in a string, for the bundler to rewrite, does not).
 */
function importsOf(file: string): Edge[] {
  const text = Deno.readTextFileSync(join(ROOT, file))
    // Doc examples import as a user would: they are not the file's imports.
    .replace(/```[\s\S]*?```/g, "");
  const found = new Map<string, Edge>();
  const pattern =
    /(\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+|new URL\(\s*)["'](\.{1,2}\/[^"']+)["']/gm;
  for (const [, how, specifier] of text.matchAll(pattern)) {
    const target = relative(ROOT, join(ROOT, dirname(file), specifier));
    try {
      if (!Deno.statSync(join(ROOT, target)).isFile) continue;
    } catch {
      continue; // not a file (a URL the bundler rewrites): not an import
    }
    const kind = how.startsWith("new URL") ? "url" : "import";
    if (found.get(target)?.kind !== "import") found.set(target, { file, target, kind });
  }
  return [...found.values()];
}

/** A file's folder as a unit of the graph: `src/engine/webgpu/x.ts` is in `src/engine`. */
function unitOf(file: string): string {
  const parts = file.split("/");
  if (parts.length === 1) return ".";
  if (parts[0] === "src") return parts.length === 2 ? "src" : `src/${parts[1]}`;
  return parts[0];
}

/** Whether `file` may import `target`: a `_` file only from its own unit or a folder below. */
function mayImport(file: string, target: string): boolean {
  const name = target.split("/").at(-1)!;
  if (!name.startsWith("_")) return true;
  const own = dirname(target);
  return unitOf(file) === unitOf(target) || dirname(file).startsWith(own + "/");
}

/** The cycles of a directed graph, one path per strongly connected part of more than one node. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

const files = productionFiles();
const edges = files.flatMap(importsOf);

Deno.test("imports: the walk sees the production files and their imports", () => {
  // What the checks below rest on: a walk that saw nothing would pass them all.
  for (const file of ["mod.ts", "src/train/_loop.ts", "studio/server.ts", "scripts/build.ts"]) {
    assert.ok(files.includes(file), file);
  }
  const seen = (file: string, target: string) =>
    edges.some((e) => e.file === file && e.target === target);
  assert.ok(seen("mod.ts", "src/train/train.ts"));
  assert.ok(seen("src/train/train.ts", "src/train/_loop.ts"));
  assert.ok(seen("src/engine/_thread_pool.ts", "src/engine/_wasm_worker.ts"), "a worker's URL");
  assert.ok(seen("studio/app.js", "studio/worker.js"), "a worker's URL in JavaScript");
  assert.ok(seen("studio/worker.js", "mod.ts"), "a JSDoc import() type");
  assert.ok(!seen("src/inspect/mod.ts", "mod.ts"), "a doc example's import");
  for (const file of files) assert.ok(unitOf(file) in LAYERS, `${file}: a folder without a layer`);
});

Deno.test("imports: no production file imports a _ file of another folder", () => {
  const leaks = edges.filter((e) => !mayImport(e.file, e.target))
    .map((e) => `${e.file} imports ${e.target}`);
  assert.deepEqual(leaks, [], "give what two folders share a public (non-_) home");
  // The rule itself: own folder, own module, a parent's helpers; never a sibling's.
  assert.ok(mayImport("src/engine/webgpu_core.ts", "src/engine/webgpu/_wgsl_common.ts"));
  assert.ok(mayImport("src/data/lines.ts", "src/_random.ts"));
  assert.ok(!mayImport("src/cli/_progress.ts", "src/train/_budget.ts"));
  assert.ok(!mayImport("studio/server.ts", "src/cli/_args.ts"));
  assert.ok(!mayImport("scripts/build.ts", "src/_base64.ts"));
  assert.ok(!mayImport("train.ts", "src/cli/_progress.ts"));
});

Deno.test("imports: layers point down, with no circle between folders or between files", () => {
  const up = edges.filter((e) => LAYERS[unitOf(e.target)] > LAYERS[unitOf(e.file)])
    .map((e) => `${e.file} (${unitOf(e.file)}) imports ${e.target} (${unitOf(e.target)})`);
  assert.deepEqual(up, [], "a folder imports from its layer or below");

  const folders = new Map<string, Set<string>>();
  const fileGraph = new Map<string, Set<string>>();
  for (const { file, target, kind } of edges) {
    const [a, b] = [unitOf(file), unitOf(target)];
    if (a !== b) folders.set(a, (folders.get(a) ?? new Set()).add(b));
    // A worker's script runs in a module graph of its own: it may import its pool's types.
    if (kind === "import") fileGraph.set(file, (fileGraph.get(file) ?? new Set()).add(target));
  }
  assert.deepEqual(cycles(folders).map((c) => c.join(" → ")), [], "folder circles");
  assert.deepEqual(cycles(fileGraph).map((c) => c.join(" → ")), [], "file circles (imports)");
  // The check finds a circle when there is one.
  const circle = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])]]);
  assert.deepEqual(cycles(circle), [["a", "b", "c", "a"]]);
});
