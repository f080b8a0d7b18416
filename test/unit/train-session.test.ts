// A training run as the CLI and the engine process drive it: corpus -> tokenizer -> steps ->
// checkpoint that loads back (weights, config, tokenizer, losses), samples and timelapse frames.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { TOKENIZER_METADATA_KEY, parseSavedTokenizer, tokenizerFromSaved } from '../../src/engine/tokenizer';
import { TrainingSession, type TrainRequest } from '../../src/engine/train/session';
import { assertClose } from './assertClose';

const poems = path.join(__dirname, '..', '..', 'media', 'corpus');
const verdict = path.join(__dirname, '..', 'fixtures', 'the-verdict.txt');
const small: TrainRequest = {
  corpusPaths: [poems], tokenizer: 'word', dim: 16, heads: 2, layers: 2, contextLength: 16, batchSize: 4, steps: 40, lr: 5e-3, seed: 7, dropout: 0,
};

test('the copying task: its probe is 12 words written twice, and each frame scores every head as the playground does', () => {
  const session = TrainingSession.prepare({ ...small, corpusPaths: [], task: 'copying', contextLength: 32, steps: 2 });
  assert.equal(session.info.probe.length, 24);
  assert.deepEqual(session.info.probe.slice(12), session.info.probe.slice(0, 12));
  const frame = session.probeFrame();
  const w = frame.heads[1]![0]!;
  const induction = Array.from({ length: 12 }, (_, i) => w.data[(12 + i) * 24 + i + 1]!).reduce((a, b) => a + b, 0) / 12;
  assertClose(frame.roles[1]![0]!.induction!, induction, { atol: 1e-6, label: 'induction score: mean over the second copy of A[t][t-11]' });
  assert.equal(frame.roles.length, 2);
  assert.equal(frame.roles[0]!.length, 2);
});

test('a run on the poems: the loss falls, the checkpoint loads back with its tokenizer and losses', () => {
  const session = TrainingSession.prepare(small);
  const { info } = session;
  assert.equal(info.tokenizer, 'word');
  assert.equal(info.config.layers, 2);
  assert.ok(info.trainTokens > 0 && info.validationTokens > 0);
  assertClose(info.validationTokens / info.corpusTokens, 0.1, { atol: 0.01, label: 'the 90/10 split' });
  const first = session.evaluate();
  while (!session.done) session.step();
  const last = session.evaluate();
  assert.ok(first.trainLoss !== undefined && last.trainLoss !== undefined);
  assert.ok(last.trainLoss < first.trainLoss - 0.5, `train loss ${first.trainLoss} -> ${last.trainLoss}`);
  assert.equal(session.history.steps.length, 40);
  const frame = session.probeFrame();
  assert.equal(frame.heads.length, 2);
  assert.equal(frame.heads[0]!.length, 2);
  const P = info.probe.length;
  assert.equal(frame.heads[0]![0]!.rows, P);
  // the poems' probe is not written twice: a previous-token score for each head, no induction score
  const w = frame.heads[1]![1]!;
  const previous = Array.from({ length: P - 1 }, (_, i) => w.data[(i + 1) * P + i]!).reduce((a, b) => a + b, 0) / (P - 1);
  assertClose(frame.roles[1]![1]!.previousToken!, previous, { atol: 1e-6, label: 'previous-token score: mean of A[t][t-1]' });
  assert.equal(frame.roles[0]![0]!.induction, null);
  assert.ok(session.sample(5).startsWith(info.samplePrompt.split(' ')[0]!));

  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-train-')), 'models', 'poems.safetensors');
  session.save(file);
  const loaded = readGptCheckpoint(file);
  assert.deepEqual(loaded.model.config, info.config);
  assert.equal(loaded.metadata['llm101.step'], '40');
  const losses = JSON.parse(loaded.metadata['llm101.losses']!) as { steps: [number, number][]; evals: unknown[] };
  assert.equal(losses.steps.length, 40);
  assert.equal(losses.evals.length, 2);
  // the checkpoint alone tokenizes: the same ids as the session's tokenizer
  const tokenizer = tokenizerFromSaved(parseSavedTokenizer(loaded.metadata[TOKENIZER_METADATA_KEY]!, file));
  const text = 'The sea reads the shore';
  assert.deepEqual(tokenizer.encode(text).map((t) => t.id), session.tokenizer.encode(text).map((t) => t.id));
  // and the weights are the trained ones, bit for bit
  assert.deepEqual(loaded.model.weights.blocks[1]!.ff.up.weight.data, session.trainer.weights.blocks[1]!.ff.up.weight.data);
});

test('the book\'s check on the-verdict (word tokenizer, dim 32, 4 heads, 2 layers, context 32, batch 8, lr 1e-2): loss from about 7 to well under 4 in 300 steps', () => {
  const session = TrainingSession.prepare({
    corpusPaths: [verdict], tokenizer: 'word', dim: 32, heads: 4, layers: 2, contextLength: 32, batchSize: 8, steps: 300, lr: 1e-2, seed: 123, dropout: 0,
  });
  const start = session.evaluate().trainLoss!;
  assert.ok(start > 6.5 && start < 7.5, `starts near ln(vocab) = ${Math.log(session.info.config.vocabSize).toFixed(2)}: ${start}`);
  while (!session.done) session.step();
  const end = session.evaluate().trainLoss!;
  console.log(`# the-verdict, 300 steps: train loss ${start.toFixed(3)} -> ${end.toFixed(3)}`);
  assert.ok(end < 3.5, `train loss after 300 steps: ${end}`);
});

test('what cannot train says what to change', () => {
  assert.throws(() => TrainingSession.prepare({ ...small, steps: 0 }), /steps must be a whole number from 1/);
  assert.throws(() => TrainingSession.prepare({ ...small, lr: 0 }), /learning rate must be above 0/);
  assert.throws(() => TrainingSession.prepare({ ...small, batchSize: 0 }), /batch size must be a whole number from 1/);
  assert.throws(() => TrainingSession.prepare({ ...small, heads: 3 }), /heads \(3\) must divide dim \(16\)/);
  assert.throws(() => TrainingSession.prepare({ ...small, contextLength: 100_000 }), /too few for one training window|contextLength/);
  const tiny = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-tiny-')), 'tiny.txt');
  fs.writeFileSync(tiny, 'a few words only');
  assert.throws(() => TrainingSession.prepare({ ...small, corpusPaths: [tiny] }), /too few for one training window of 17 \(context length 16 \+ 1\)/);
  assert.throws(() => TrainingSession.prepare({ ...small, init: tiny }), /tiny\.txt/);
});

test('going on from a checkpoint keeps its tokenizer, also on another corpus', () => {
  const first = TrainingSession.prepare({ ...small, steps: 5 });
  while (!first.done) first.step();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-init-')), 'first.safetensors');
  first.save(file);
  const again = TrainingSession.prepare({ ...small, corpusPaths: [verdict], init: file, steps: 3 });
  assert.equal(again.info.config.vocabSize, first.info.config.vocabSize, 'the poems\' vocabulary, not the-verdict\'s');
  const text = 'the sea';
  assert.deepEqual(again.tokenizer.encode(text).map((t) => t.id), first.tokenizer.encode(text).map((t) => t.id));
  assert.equal(again.stepCount, 0);
  again.step();
  assert.deepEqual(again.trainer.weights.tokEmb.rows, first.trainer.weights.tokEmb.rows);
});
