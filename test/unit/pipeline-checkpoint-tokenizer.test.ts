// A checkpoint we trained tokenizes by itself: with `weightsPath` naming it and no tokenizer named
// by the user, the pipeline takes the tokenizer saved in its __metadata__ (word vocabulary or BPE
// merges), whatever corpus the settings point at; a named tokenizer still wins, and one whose
// vocabulary is not the model's is refused with both sizes.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/engine/config';
import { readGptCheckpoint, writeGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { Analyzer, type AnalyzeRequest } from '../../src/engine/pipeline';
import { TrainingSession, type TrainRequest } from '../../src/engine/train/session';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-pipeline-ckpt-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
const poems = path.join(__dirname, '..', '..', 'media', 'corpus');
const verdict = path.join(__dirname, '..', 'fixtures', 'the-verdict.txt');
const text = 'The lighthouse keeper reads the sea';

function trained(name: string, extra: Partial<TrainRequest> = {}): { file: string; session: TrainingSession } {
  const session = TrainingSession.prepare({
    corpusPaths: [poems], tokenizer: 'word', dim: 8, heads: 2, layers: 1, contextLength: 32, batchSize: 2, steps: 2, lr: 1e-3, seed: 3, dropout: 0, ...extra,
  });
  while (!session.done) session.step();
  const file = path.join(scratch, name);
  session.save(file);
  return { file, session };
}

/** The settings' corpus is the-verdict: a word vocabulary of another size than the poems'. */
const request = (file: string, extra: Partial<AnalyzeRequest> = {}): AnalyzeRequest => ({
  ...DEFAULT_CONFIG, text, corpusPath: verdict, bpeVocabSize: 300, weightsPath: file, tokenizerExplicit: false, dropout: 0, ...extra,
});

test("a word checkpoint: tokenizer, tokenize, analyze, model and analyzeModel use its vocabulary, not the settings' corpus", () => {
  const { file, session } = trained('word.safetensors');
  const analyzer = new Analyzer();
  const ids = session.tokenizer.encode(text).map((t) => t.id);
  const tokenizer = analyzer.tokenizer(request(file));
  assert.equal(tokenizer.kind, 'word');
  assert.equal(tokenizer.vocabSize, session.info.config.vocabSize);
  assert.deepEqual(tokenizer.encode(text).map((t) => t.id), ids);
  assert.deepEqual(analyzer.tokenize(request(file)).tokens.map((t) => t.id), ids);
  assert.equal(analyzer.tokenizerKind(request(file, { tokenizer: 'bpe' })), 'word', "the setting's default kind gives way to the checkpoint's");

  const result = analyzer.analyze(request(file));
  assert.ok(result.kind === 'trace');
  assert.deepEqual(result.trace.tokens.map((t) => t.id), ids);
  assert.equal(result.trace.config.tokenizer, 'word');
  assert.equal(result.trace.config.vocabSize, session.info.config.vocabSize);
  assert.equal(analyzer.model(request(file)).config.vocabSize, session.info.config.vocabSize);
  const run = analyzer.analyzeModel(request(file));
  assert.deepEqual(run.tokens.map((t) => t.id), ids);
  assert.equal(run.forward.logits?.rows, ids.length);
});

test('a named tokenizer wins over the saved one; one of another vocabulary size is refused naming both sizes', () => {
  const { file, session } = trained('word-named.safetensors');
  const analyzer = new Analyzer();
  const V = session.info.config.vocabSize;
  // the poems' own word tokenizer, named: the same vocabulary, so it fits
  const named = analyzer.tokenizer(request(file, { tokenizerExplicit: true, corpusPath: poems }));
  assert.equal(named.vocabSize, V);
  assert.throws(
    () => analyzer.analyze(request(file, { tokenizerExplicit: true, tokenizer: 'gpt2' })),
    (err: Error) => err.message.includes(String(V)) && /50,?257/.test(err.message),
  );
  assert.throws(() => analyzer.model(request(file, { tokenizerExplicit: true })), new RegExp(`${V}`), "the verdict's word vocabulary is not the model's");
});

test('a BPE checkpoint brings its merges; a checkpoint retrained at the same path brings its new tokenizer', () => {
  const { file, session } = trained('bpe.safetensors', { tokenizer: 'bpe', bpeVocabSize: 300 });
  const analyzer = new Analyzer();
  const tokenizer = analyzer.tokenizer(request(file, { bpeVocabSize: 512 }));
  assert.equal(tokenizer.kind, 'bpe');
  assert.equal(tokenizer.vocabSize, 300);
  assert.deepEqual(tokenizer.encode(text).map((t) => t.id), session.tokenizer.encode(text).map((t) => t.id));
  const result = analyzer.analyze(request(file));
  assert.ok(result.kind === 'trace');
  assert.equal(result.trace.config.tokenizer, 'bpe');

  // the same file name, now a word model of the-verdict: the cached BPE must not be reused
  const again = TrainingSession.prepare({
    corpusPaths: [verdict], tokenizer: 'word', dim: 8, heads: 2, layers: 1, contextLength: 16, batchSize: 2, steps: 1, lr: 1e-3, seed: 3, dropout: 0,
  });
  again.step();
  again.save(file);
  const after = analyzer.tokenizer(request(file));
  assert.equal(after.kind, 'word');
  assert.equal(after.vocabSize, again.info.config.vocabSize);
  assert.equal(analyzer.model(request(file)).config.vocabSize, again.info.config.vocabSize);
});

test('a checkpoint without a saved tokenizer keeps using the settings (the book layout as before)', () => {
  const { file } = trained('plain.safetensors');
  const analyzer = new Analyzer();
  // the same weights written without llm101.tokenizer
  const plain = path.join(scratch, 'plain-no-tokenizer.safetensors');
  writeGptCheckpoint(plain, readGptCheckpoint(file).model);
  assert.equal(analyzer.tokenizerKind(request(plain)), DEFAULT_CONFIG.tokenizer);
  assert.equal(analyzer.tokenizer(request(plain, { corpusPath: poems })).kind, 'word');
});
