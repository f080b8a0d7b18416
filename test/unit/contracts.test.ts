// The contracts as a whole: the knob check the panel and the host share, its ranges against the
// settings' schema in package.json, and an import graph without circles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import * as esbuild from 'esbuild';
import { KNOB_RANGES, knobProblem, validHeads } from '../../src/shared/knobs';
import { KNOBS } from '../../src/shared/protocol';

const root = path.resolve(__dirname, '..', '..');

test("the knob ranges are the settings' schema in package.json", () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { type?: string; enum?: unknown[]; minimum?: number; maximum?: number; exclusiveMaximum?: number }> } };
  };
  for (const knob of KNOBS) {
    const schema = manifest.contributes.configuration.properties[`llm101.${knob}`];
    assert.ok(schema, `llm101.${knob} is a setting`);
    if (knob === 'tokenizer') {
      assert.deepEqual(schema.enum, ['word', 'bpe', 'gpt2']);
      continue;
    }
    const range: { whole: boolean; min: number; max?: number; below?: number } = KNOB_RANGES[knob];
    assert.deepEqual(
      { type: schema.type, min: schema.minimum, max: schema.maximum, below: schema.exclusiveMaximum },
      { type: range.whole ? 'integer' : 'number', min: range.min, max: range.max, below: range.below },
      knob,
    );
  }
});

test('one knob check for the panel and the host: each refusal says the fix, valid values pass', () => {
  const ctx = { heads: 7, dim: 28, fromFile: false };
  assert.deepEqual(validHeads(28), [1, 2, 4, 7, 14, 28]);
  assert.equal(knobProblem('heads', 5, ctx), 'heads (5) must divide dim (28); valid head counts: 1, 2, 4, 7, 14, 28');
  assert.equal(knobProblem('heads', '5', ctx), knobProblem('heads', 5, ctx), 'what the panel typed and what crossed the wire read alike');
  assert.equal(knobProblem('heads', 2.5, ctx), 'heads must be a whole number from 1 to 64, got 2.5');
  assert.equal(knobProblem('heads', 128, { ...ctx, dim: 256 }), 'heads must be a whole number from 1 to 64, got 128');
  assert.equal(knobProblem('dropout', 1.5, ctx), 'dropout must be a number at least 0 and below 1 (e.g. 0.1), got 1.5');
  assert.equal(knobProblem('dim', 0, ctx), 'dim must be a whole number from 1 to 4096, got 0');
  assert.equal(knobProblem('dim', 30, ctx), 'dim (30) must be a multiple of heads (7), e.g. 28 or 35; or change heads first');
  assert.equal(knobProblem('dim', 30, { heads: 7, dim: 64, fromFile: true }), undefined, "a checkpoint's dim is the file's: the knob does not change it");
  assert.equal(knobProblem('seed', -3, ctx), 'seed must be a whole number from 0 to 4294967295, got -3');
  assert.equal(knobProblem('seed', 4294967296, ctx), 'seed must be a whole number from 0 to 4294967295, got 4294967296');
  assert.equal(knobProblem('seed', '', ctx), 'seed needs a number');
  assert.equal(knobProblem('seed', 'abc', ctx), 'seed must be a number, got abc');
  assert.equal(knobProblem('tokenizer', 'foo', ctx), 'tokenizer must be one of word, bpe, gpt2, got foo');
  // a checkpoint decides dim: 12 takes 3 heads; before it is read, any count in range
  assert.equal(knobProblem('heads', 3, { ...ctx, dim: 12, fromFile: true }), undefined);
  assert.match(knobProblem('heads', 5, { ...ctx, dim: 12, fromFile: true }) ?? '', /heads \(5\) must divide dim \(12\); valid head counts: 1, 2, 3, 4, 6, 12/);
  assert.equal(knobProblem('heads', 5, { ...ctx, dim: undefined, fromFile: true }), undefined);
  for (const [knob, value] of [['heads', 4], ['heads', '14'], ['dim', 56], ['dropout', 0], ['seed', 7], ['tokenizer', 'gpt2']] as const) {
    assert.equal(knobProblem(knob, value, { ...ctx, heads: knob === 'dim' ? 7 : ctx.heads }), undefined, `${knob} ${value} is fine`);
  }
});

/** The relative imports of every TypeScript file under src/ and webview/ (type-only ones included), as a graph of files. */
function importGraph(): Map<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) files.push(full);
    }
  };
  walk(path.join(root, 'src'));
  walk(path.join(root, 'webview'));
  const resolve = (from: string, spec: string) => {
    const base = path.resolve(path.dirname(from), spec);
    return [`${base}.ts`, path.join(base, 'index.ts'), base].find((f) => f.endsWith('.ts') && fs.existsSync(f));
  };
  const graph = new Map<string, string[]>();
  for (const file of files) {
    // strip comments so that an import in a comment is not an edge
    const source = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const specs = [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
    graph.set(file, specs.map((s) => resolve(file, s)).filter((f): f is string => f !== undefined));
  }
  return graph;
}

/** One circle of imports, as the files in order, or undefined when there is none. */
function findCircle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      const circle = visit(next);
      if (circle) return circle;
    }
    stack.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of graph.keys()) {
    const circle = visit(file);
    if (circle) return circle;
  }
  return undefined;
}

test('no import circles in src/ and webview/ (type-only imports count too)', () => {
  const graph = importGraph();
  assert.ok(graph.size > 50 && [...graph.values()].some((edges) => edges.length > 3), 'the graph was read');
  const circle = findCircle(graph);
  assert.equal(circle, undefined, `an import circle: ${circle?.map((f) => path.relative(root, f)).join(' -> ')}`);
  // the check finds one when there is one
  assert.deepEqual(findCircle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]])), ['a', 'b', 'c', 'a']);
});

test('src/shared imports nothing above it: only itself, valibot and the engine\'s types', () => {
  for (const [file, edges] of importGraph()) {
    if (!file.startsWith(path.join(root, 'src', 'shared') + path.sep)) continue;
    for (const target of edges) {
      const rel = path.relative(path.join(root, 'src'), target);
      assert.ok(rel.startsWith(`shared${path.sep}`) || rel.startsWith(`engine${path.sep}`), `${path.relative(root, file)} imports ${rel}`);
    }
  }
});

test('every module of src/shared loads where a webview runs: no SharedArrayBuffer, no Atomics', () => {
  // A webview page is not cross-origin isolated, so SharedArrayBuffer is undefined there; the
  // training panel imports the engine's event schemas, so a schema that names the global when its
  // module loads stops the panel before it paints. Each module is bundled for the browser as the
  // webviews are, and run in a fresh context without those two globals.
  const dir = path.join(root, 'src', 'shared');
  const modules = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));
  assert.ok(modules.length >= 8, `${modules.length} modules`);
  const failed: string[] = [];
  for (const m of modules) {
    const { outputFiles } = esbuild.buildSync({ entryPoints: [path.join(dir, m)], bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent' });
    const context = vm.createContext({ console });
    vm.runInContext('delete globalThis.SharedArrayBuffer; delete globalThis.Atomics;', context);
    try {
      vm.runInContext(outputFiles[0]!.text, context);
    } catch (err) {
      failed.push(`${m}: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(failed, []);
});
