// The compare view: two models on the same text. Against torch: two checkpoints of book-small's
// sizes (seeds 123 and 7, the same ids) give every block map's A − B and its largest |A − B| as
// torch's references do, and the next-token probabilities of both; models of other sizes say
// both shapes instead of a difference map.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/engine/config';
import { Analyzer, type AnalyzeRequest } from '../../src/engine/pipeline';
import type { Matrix } from '../../src/engine/types';
import { codeValues } from '../../src/shared/codes';
import { COMPARE_SIDE, compareView, meanPool, type CompareInput } from '../../src/worker/compareView';
import { modelRun } from '../../src/worker/modelView';
import { CompareViewSchema, parseCompareHostMessage } from '../../src/shared/compareProtocol';
import { parse, problem } from '../../src/shared/wire';
import { assertClose } from './assertClose';
import { loadBookCase, ref, type BookCase } from './gpt-fixtures';
import { textOfIds, writeWordCorpus } from './wordVocab';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-compare-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

function analyzed(c: BookCase, text: string, analyzer = new Analyzer()): CompareInput {
  const request: AnalyzeRequest = {
    ...DEFAULT_CONFIG, text, corpusPath: writeWordCorpus(scratch, c.config.vocabSize), bpeVocabSize: 300,
    weightsPath: path.join(c.folder, 'weights.safetensors'), heads: c.config.heads, dropout: 0,
  };
  const result = analyzer.analyze(request);
  assert.ok(result.kind === 'trace');
  const analysis = analyzer.analyzeModel(request, { logits: 'none' });
  return { result, run: modelRun(analysis) };
}

/** Head h of a torch (heads·T, T) stack. */
function headOf(stack: Matrix, h: number, T: number): Float32Array {
  return stack.data.slice(h * T * T, (h + 1) * T * T);
}

/** The lower triangle (j <= i) of a (T, T) row-major array, row by row. */
function lowerOf(data: ArrayLike<number>, T: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) out.push(data[i * T + j]!);
  return out;
}

const softmax = (row: Float32Array): number[] => {
  const max = Math.max(...row);
  const exps = Array.from(row, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
};

test("two models of the same sizes: every block head's A − B is torch's, and both next-token distributions", () => {
  const a = loadBookCase('book-small');
  const b = loadBookCase('book-small-seed7');
  assert.deepEqual(a.ids, b.ids, 'the fixtures share their tokens');
  const T = a.ids.length;
  const text = textOfIds(a.ids, a.config.vocabSize);
  const view = compareView(analyzed(a, text), analyzed(b, text, new Analyzer()), { a: 'A: seed 123', b: 'B: seed 7' });
  // the schema the host checks the engine's answer with, and the webview the host's message with:
  // it keeps every field (valibot drops the ones a schema does not name) and refuses a broken shape
  assert.equal(problem(CompareViewSchema, view), undefined);
  assert.deepEqual(parse(CompareViewSchema, view), view, 'the view crosses whole');
  assert.deepEqual(parseCompareHostMessage({ type: 'compare', title: 't', view, elapsedMs: 1 })?.type, 'compare');
  const broken = { ...view, maps: [{ ...view.maps[0]!, shapes: { a: [-1, 2] } }] };
  assert.match(problem(CompareViewSchema, broken) ?? '', /^maps\.0\.shapes\.a\.0: /);
  assert.equal(view.sameTokens, true);
  assert.deepEqual([view.a.config.layers, view.b.config.heads], [2, 4]);
  const diffs: Record<string, number> = {};
  for (let layer = 0; layer < 2; layer++) {
    const stackA = ref(a.reference, `blocks.${layer}.attnWeights`);
    const stackB = ref(b.reference, `blocks.${layer}.attnWeights`);
    for (let h = 0; h < 4; h++) {
      const entry = view.maps.find((m) => m.id === `block.${layer}.${h}`);
      assert.ok(entry?.diff && entry.a && entry.b && entry.note === undefined, `block ${layer} head ${h} has A, B and A − B`);
      const wa = headOf(stackA, h, T);
      const wb = headOf(stackB, h, T);
      const torchDiff = wa.map((v, i) => v - wb[i]!);
      const torchMax = Math.max(...Array.from(torchDiff, Math.abs));
      diffs[`maxAbs ${layer}.${h}`] = assertClose([entry.maxAbsDiff!], [torchMax], { atol: 1e-6, label: `max |A − B| block ${layer} head ${h}` });
      // the drawn difference: within half a colour level of torch's A − B
      const drawn = codeValues(entry.diff, 0, 0, T, T).values;
      const halfLevel = (2 * torchMax) / 253 / 2;
      diffs[`drawn ${layer}.${h}`] = assertClose(lowerOf(drawn, T), lowerOf(torchDiff, T), { atol: halfLevel + 1e-6, label: `A − B drawn, block ${layer} head ${h}` });
    }
  }
  const both = view.nextToken.both;
  assert.ok(both && both.length >= 10, 'one vocabulary: each model’s probability of the union of both top tens');
  const pa = softmax(ref(a.reference, 'logits').data.slice((T - 1) * 64, T * 64));
  const pb = softmax(ref(b.reference, 'logits').data.slice((T - 1) * 64, T * 64));
  diffs.nextA = assertClose(both.map((t) => t.a), both.map((t) => pa[t.id]!), { atol: 1e-6, label: 'A next-token probabilities' });
  diffs.nextB = assertClose(both.map((t) => t.b), both.map((t) => pb[t.id]!), { atol: 1e-6, label: 'B next-token probabilities' });
  assert.deepEqual(view.nextToken.a.tokens.map((t) => t.id), [...pa.keys()].sort((x, y) => pa[y]! - pa[x]!).slice(0, 10), 'A’s top ten are torch’s');
  console.log('compare book-small vs book-small-seed7 against torch, max abs diff:', JSON.stringify(diffs));
});

test('models of other sizes: where the shapes differ, both shapes and why; where they agree, a difference', () => {
  const a = loadBookCase('book-small'); // dim 32, 4 heads, vocabulary 64
  const b = loadBookCase('book-qkv-bias'); // dim 24, 3 heads, vocabulary 50
  const text = textOfIds(a.ids.map((id) => id % 48), a.config.vocabSize); // words both vocabularies have
  const view = compareView(analyzed(a, text), analyzed(b, text, new Analyzer()), { a: 'A', b: 'B' });
  const byId = (id: string) => view.maps.find((m) => m.id === id)!;
  assert.equal(view.sameTokens, true);
  const embeddings = byId('embeddings.input');
  assert.equal(embeddings.diff, undefined);
  assert.match(embeddings.note!, /No difference map: A is \(11, 32\), B is \(11, 24\)\. A is 32 wide \(dim\), B 24\./);
  assert.ok(byId('causal.weights').diff, 'the (T, T) maps agree in shape whatever the width');
  const fourth = byId('block.0.3');
  assert.ok(fourth.a && !fourth.b && !fourth.diff);
  assert.match(fourth.note!, /Only model A has head 4: A's blocks have 4 heads, B's 3\./);
  assert.equal(view.nextToken.both, undefined, 'different vocabularies: the two lists side by side only');
  assert.deepEqual(view.b.config, { vocabSize: 50, dim: 24, heads: 3, layers: 2, contextLength: 16, qkvBias: true });
});

test('meanPool: the mean of each block of cells (only j <= i for a causal map); small maps unchanged', () => {
  const m: Matrix = { rows: 4, cols: 4, data: Float32Array.from([1, 0, 0, 0, 2, 3, 0, 0, 4, 5, 6, 0, 7, 8, 9, 10]) };
  // blocks: [1, 2, 3] → 2; none on or below the diagonal → 0; [4, 5, 7, 8] → 6; [6, 9, 10] → 25/3
  assertClose(meanPool(m, 2, true).data, [2, 0, 6, 25 / 3], { atol: 1e-6, label: 'causal mean pool' });
  assert.equal(meanPool(m, 4), m);
  const full = meanPool(m, 2);
  assert.deepEqual(Array.from(full.data), [1.5, 0, 6, 6.25]);
  assert.ok(COMPARE_SIDE >= 64);
});
