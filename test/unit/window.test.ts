// The context window: a text longer than the model's positions is read through a window of
// contextLength tokens (by default the last, as nanoGPT's generate crops), and what the model
// computes on it is torch's forward on the cropped ids: the fixtures' checkpoint is cut to as
// many positions as the fixture has tokens, so torch's numbers on those ids are the window's.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../src/cli';
import { DEFAULT_CONFIG } from '../../src/engine/config';
import { gptToTensors, gptCheckpointMetadata, readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { writeSafetensors } from '../../src/engine/io/safetensors';
import { Analyzer, type AnalyzeRequest } from '../../src/engine/pipeline';
import { contextWindow, cropToContext } from '../../src/engine/window';
import { windowExplanation } from '../../src/shared/windowText';
import type { Matrix } from '../../src/engine/types';
import { assertClose } from './assertClose';
import { loadBookCase, ref } from './gpt-fixtures';
import { textOfIds, writeWordCorpus } from './wordVocab';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-window-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

const stacked = (maps: readonly Matrix[]): number[] => maps.flatMap((m) => Array.from(m.data));

/** book-small cut to exactly its fixture's T positions (pos_emb rows 0..T−1: all torch's forward read). */
function fixtureWithContextOfItsTokens() {
  const c = loadBookCase('book-small');
  const T = c.ids.length;
  const model = readGptCheckpoint(path.join(c.folder, 'weights.safetensors'), { heads: c.config.heads }).model;
  const { posEmb } = model.weights;
  const weights = { ...model.weights, posEmb: { rows: T, cols: posEmb.cols, data: posEmb.data.slice(0, T * posEmb.cols) } };
  const config = { ...model.config, contextLength: T };
  const file = path.join(scratch, `book-small-context-${T}.safetensors`);
  fs.writeFileSync(file, writeSafetensors(gptToTensors(weights), gptCheckpointMetadata(config)));
  return { c, T, file, corpusPath: writeWordCorpus(scratch, c.config.vocabSize) };
}

test('contextWindow: nothing when the text fits; else the last contextLength tokens, or from a start clamped inside the text', () => {
  assert.equal(contextWindow(64, 64), undefined);
  assert.equal(contextWindow(1, 64), undefined);
  assert.deepEqual(contextWindow(137, 64), { from: 73, to: 137, of: 137 });
  assert.deepEqual(contextWindow(137, 64, 0), { from: 0, to: 64, of: 137 });
  assert.deepEqual(contextWindow(137, 64, 10), { from: 10, to: 74, of: 137 });
  assert.deepEqual(contextWindow(137, 64, 500), { from: 73, to: 137, of: 137 }, 'a start past the last full window is the last window');
  assert.throws(() => contextWindow(10, 0), /context length must be a positive whole number, got 0/);
  assert.throws(() => contextWindow(10, 4, -1), /window must start at a token index >= 0, got -1/);
  assert.throws(() => contextWindow(10, 4, 1.5), /got 1\.5/);
});

test('cropToContext keeps each token’s offsets in the whole text (the editor lights the right characters)', () => {
  const tokens = Array.from({ length: 10 }, (_, i) => ({ id: i, text: `t${i}`, start: 3 * i, end: 3 * i + 2 }));
  const { tokens: kept, window } = cropToContext(tokens, 4);
  assert.deepEqual(window, { from: 6, to: 10, of: 10 });
  assert.deepEqual(kept.map((t) => [t.id, t.start, t.end]), [[6, 18, 20], [7, 21, 23], [8, 24, 26], [9, 27, 29]]);
  assert.deepEqual(cropToContext(tokens, 20), { tokens });
  const said = windowExplanation({ from: 73, to: 137, of: 137 }, 64);
  assert.match(said, /The model has 64 positions .*reads tokens 74–137 of 137; the first 73 fell outside the window/);
  assert.match(windowExplanation({ from: 2, to: 6, of: 10 }, 4), /the first 2 and the last 4 fell outside/);
});

test("a text longer than the context: the stages and the model read the last contextLength tokens, torch's numbers on idx[:, -T:]", () => {
  const { c, T, file, corpusPath } = fixtureWithContextOfItsTokens();
  const extra = [5, 9, 2, 7, 1, 3]; // tokens before the window: they fall outside
  const text = textOfIds([...extra, ...c.ids], c.config.vocabSize);
  const request: AnalyzeRequest = { ...DEFAULT_CONFIG, text, corpusPath, bpeVocabSize: 300, weightsPath: file, heads: 4, dropout: 0 };
  const analyzer = new Analyzer();
  const result = analyzer.analyze(request);
  assert.ok(result.kind === 'trace');
  assert.deepEqual(result.window, { from: extra.length, to: extra.length + T, of: extra.length + T });
  const { trace } = result;
  assert.deepEqual(trace.tokens.map((t) => t.id), c.ids, 'the window holds the fixture ids');
  assert.equal(trace.tokens[0]!.start, 4 * extra.length, 'offsets are the whole text’s (each word and its space: 4 characters)');
  const r = c.reference;
  const diffs: Record<string, number> = {
    embeddings: assertClose(trace.embeddings.input, ref(r, 'embeddings'), { atol: 1e-6, label: 'embeddings (positions 0..T−1 inside the window)' }),
    attnWeights: assertClose(stacked(trace.multiHead.heads.map((h) => h.weights)), ref(r, 'blocks.0.attnWeights'), { atol: 1e-6, label: 'block 0 weights' }),
    norm2: assertClose(trace.layerNorm.output, ref(r, 'blocks.0.norm2'), { atol: 1e-5, label: 'LN₂' }),
  };
  const run = analyzer.analyzeModel(request);
  assert.deepEqual(run.window, result.window, 'the model reads the same window');
  diffs.logits = assertClose(run.forward.logits!, ref(r, 'logits'), { atol: 1e-4, label: 'logits of the window' });
  console.log('window of the last T tokens vs torch on the cropped ids, max abs diff:', JSON.stringify(diffs));
});

test('a window the learner moves: windowFrom picks the tokens; the text that fits has no window', () => {
  const { c, T, file, corpusPath } = fixtureWithContextOfItsTokens();
  const after = [8, 8, 8];
  const text = textOfIds([...c.ids, ...after], c.config.vocabSize);
  const request: AnalyzeRequest = { ...DEFAULT_CONFIG, text, corpusPath, bpeVocabSize: 300, weightsPath: file, heads: 4, dropout: 0, windowFrom: 0 };
  const analyzer = new Analyzer();
  const run = analyzer.analyzeModel(request);
  assert.deepEqual(run.window, { from: 0, to: T, of: T + after.length });
  assertClose(run.forward.logits!, ref(c.reference, 'logits'), { atol: 1e-4, label: 'logits of the window at 0' });
  const fits = analyzer.analyze({ ...request, text: textOfIds(c.ids, c.config.vocabSize) });
  assert.ok(fits.kind === 'trace' && fits.window === undefined && fits.trace.tokens.length === T);
});

test('maxTokens counts what the model reads: a window within the limit is analyzed, a larger one asks', () => {
  const { c, T, file, corpusPath } = fixtureWithContextOfItsTokens();
  const text = textOfIds([...c.ids, ...c.ids, ...c.ids], c.config.vocabSize);
  const base: AnalyzeRequest = { ...DEFAULT_CONFIG, text, corpusPath, bpeVocabSize: 300, weightsPath: file, heads: 4 };
  const analyzer = new Analyzer();
  assert.equal(analyzer.analyze({ ...base, maxTokens: T }).kind, 'trace', `${3 * T} tokens, a window of ${T}: no question`);
  const asked = analyzer.analyze({ ...base, maxTokens: T - 1 });
  assert.ok(asked.kind === 'tooManyTokens');
  assert.match(asked.message, new RegExp(`The model's window holds ${T} of the text's ${3 * T} tokens, more than the ${T - 1} analyzed without asking`));
});

test('llm101 analyze --json carries "window": {from, to, of} when it crops, and the summary says why', async () => {
  const { c, T, file, corpusPath } = fixtureWithContextOfItsTokens();
  const text = textOfIds([1, 2, 3, ...c.ids], c.config.vocabSize);
  const capture = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
    return { code, stdout, stderr };
  };
  const args = ['analyze', '--weights', file, '--corpus', corpusPath, '--tokenizer', 'word', '--text', text, '--dropout', '0'];
  const json = await capture([...args, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { window?: unknown; tokens: unknown[]; model: { logits: number[][] } };
  assert.deepEqual(parsed.window, { from: 3, to: 3 + T, of: 3 + T });
  assert.equal(parsed.tokens.length, T);
  assertClose(parsed.model.logits.flat(), ref(c.reference, 'logits'), { atol: 1e-4, label: 'CLI logits of the window' });
  const moved = JSON.parse((await capture([...args, '--json', '--window-from', '1'])).stdout) as { window?: unknown };
  assert.deepEqual(moved.window, { from: 1, to: 1 + T, of: 3 + T });
  const fits = JSON.parse((await capture(['analyze', '--weights', file, '--corpus', corpusPath, '--tokenizer', 'word', '--text', textOfIds(c.ids, c.config.vocabSize), '--json'])).stdout) as object;
  assert.equal('window' in fits, false, 'no window when nothing is cropped');
  const summary = await capture(args);
  assert.match(summary.stdout, new RegExp(`The model has ${T} positions .*reads tokens 4–${3 + T} of ${3 + T}; the first 3 fell outside`));
  const bad = await capture([...args, '--window-from', '-2']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /window must start at a token index >= 0, got -2/);
});
