// The one model in the pipeline: seeded or from a checkpoint, kept between calls, its forward on
// the request's tokens; the seven stages are always its block 1 and, at dropout 0, give torch's
// block-1 numbers and the model section's; settings and bad checkpoints refused before any work.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_CONFIG, DEFAULT_LAYERS, validateSettings } from '../../src/engine/config';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { gptToTensors, readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { writeSafetensors } from '../../src/engine/io/safetensors';
import { gptForward, traceGptBlock } from '../../src/engine/layers/gptModel';
import { Analyzer, type AnalyzeRequest } from '../../src/engine/pipeline';
import type { Matrix } from '../../src/engine/types';
import { assertClose } from './assertClose';
import { GPT_FIXTURES, loadBookCase, readJson, readTensors, ref } from './gpt-fixtures';
import { textOfIds, writeWordCorpus } from './wordVocab';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-pipeline-gpt-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
const poems = path.join(scratch, 'poems.txt');
fs.writeFileSync(poems, 'the sea and the tide and the sea again\n');

const request = (text: string, extra: Partial<AnalyzeRequest> = {}): AnalyzeRequest => ({
  ...DEFAULT_CONFIG, text, corpusPath: poems, bpeVocabSize: 300, ...extra,
});

/** Rows of every head's (T, T) map stacked: (heads·T, T), as the fixture stores (heads, T, T). */
const stacked = (maps: readonly Matrix[]): number[] => maps.flatMap((m) => Array.from(m.data));

test("a book checkpoint: the stages take its weights and at dropout 0 give torch's block 0 (LN₁, attention, x + MHA, LN₂)", () => {
  const c = loadBookCase('book-small');
  const V = c.config.vocabSize;
  const file = path.join(c.folder, 'weights.safetensors');
  const result = new Analyzer().analyze(request(textOfIds(c.ids, V), {
    weightsPath: file, corpusPath: writeWordCorpus(scratch, V), heads: 4, dropout: 0,
  }));
  assert.ok(result.kind === 'trace');
  const { trace } = result;
  assert.deepEqual(trace.tokens.map((t) => t.id), c.ids, 'the word corpus gives the fixture ids');
  assert.deepEqual(
    [trace.config.vocabSize, trace.config.dim, trace.config.attnDim, trace.config.heads, trace.config.contextLength, trace.config.qkvBias],
    [V, 32, 32, 4, 16, false], 'sizes from the checkpoint',
  );
  const r = c.reference;
  const diffs = {
    embeddings: assertClose(trace.embeddings.input, ref(r, 'embeddings'), { atol: 1e-6, label: 'embeddings' }),
    norm1: assertClose(trace.attentionInput!, ref(r, 'blocks.0.norm1'), { atol: 1e-5, label: 'LN₁(x), what attention reads' }),
    attnWeights: assertClose(stacked(trace.multiHead.heads.map((h) => h.weights)), ref(r, 'blocks.0.attnWeights'), { atol: 1e-6, label: 'multi-head weights' }),
    afterAttention: assertClose(trace.layerNorm.input, ref(r, 'blocks.0.afterAttention'), { atol: 1e-5, label: 'x + MHA(LN₁(x))' }),
    norm2: assertClose(trace.layerNorm.output, ref(r, 'blocks.0.norm2'), { atol: 1e-5, label: 'layer-norm stage = LN₂' }),
  };
  console.log('stages from book-small vs torch block 0, max abs diff:', JSON.stringify(diffs));
  // the dropped weights are the weights at p = 0, and the single-head stages use block 0's projections
  assert.deepEqual(trace.multiHead.heads[0]!.droppedWeights.data, trace.multiHead.heads[0]!.weights.data);
  assert.equal(trace.config.stages, 'block 1');
  assert.deepEqual(trace.selfAttention.queries.data.length, c.ids.length * 32);
});

test('a book checkpoint with qkv bias: the multi-head stage is block 0 (bias included)', () => {
  const c = loadBookCase('book-qkv-bias');
  const V = c.config.vocabSize;
  const result = new Analyzer().analyze(request(textOfIds(c.ids, V), {
    weightsPath: path.join(c.folder, 'weights.safetensors'), corpusPath: writeWordCorpus(scratch, V), heads: 3, dropout: 0,
  }));
  assert.ok(result.kind === 'trace' && result.trace.config.qkvBias);
  assertClose(stacked(result.trace.multiHead.heads.map((h) => h.weights)), ref(c.reference, 'blocks.0.attnWeights'), { atol: 1e-6, label: 'weights' });
  assertClose(result.trace.layerNorm.output, ref(c.reference, 'blocks.0.norm2'), { atol: 1e-5, label: 'LN₂' });
});

test("a GPT-2 folder: the model's logits are torch's; gpt2 is the tokenizer unless the user named one", () => {
  const dir = path.join(GPT_FIXTURES, 'gpt2-tiny');
  const { ids } = readJson<{ ids: number[] }>(path.join(dir, 'case.json'));
  const torchLogits = ref(readTensors(path.join(dir, 'reference.safetensors')), 'logits');
  const analyzer = new Analyzer();
  const words = writeWordCorpus(scratch, 80);
  const named = request(textOfIds(ids, 80), { weightsPath: dir, tokenizer: 'word', tokenizerExplicit: true, corpusPath: words, heads: 7 });
  const run = analyzer.analyzeModel(named);
  assert.deepEqual(run.tokens.map((t) => t.id), ids);
  assert.equal(run.model.config.heads, 4, "config.json's n_head wins over the setting");
  assert.equal(run.weightsSource, 'gpt2-tiny');
  assert.equal(run.forward.blocks.length, 2, 'residuals kept');
  const diff = assertClose(run.forward.logits!, torchLogits, { atol: 1e-4, label: 'gpt2-tiny logits' });
  console.log(`gpt2-tiny through the pipeline: logits max abs diff ${diff.toExponential(2)}`);
  assert.equal(analyzer.model(named), run.model, 'the model is kept');
  assert.equal(analyzer.analyzeModel(named, { logits: 'last' }).forward.logits!.rows, 1);
  // the stages of the same request run with the checkpoint's sizes and heads
  const trace = analyzer.analyze({ ...named, dropout: 0 });
  assert.ok(trace.kind === 'trace' && trace.trace.config.heads === 4 && trace.trace.config.dim === 32);

  const unnamed = { ...named, tokenizerExplicit: false };
  assert.equal(analyzer.tokenizerKind(unnamed), 'gpt2');
  assert.equal(analyzer.tokenizer(unnamed).kind, 'gpt2');
  const mismatch = { message: "the gpt2 tokenizer has a vocabulary of 50257 but the model's is 80; use the tokenizer the model was trained with", setting: 'tokenizer' };
  assert.throws(() => analyzer.model(unnamed), mismatch);
  assert.throws(() => analyzer.analyze(unnamed), mismatch);
  assert.throws(() => analyzer.analyzeModel({ ...named, corpusPath: poems }), /the word tokenizer has a vocabulary of \d+ but the model's is 80/);
  assert.equal(analyzer.tokenizerKind({ tokenizer: 'word', weightsPath: path.join(GPT_FIXTURES, 'book-small', 'weights.safetensors') }), 'word', 'only GPT-2 brings its tokenizer');
});

test('the seeded model: the settings sizes and layers, torch.manual_seed(seed) + GPTModel, kept until a setting changes', () => {
  const analyzer = new Analyzer();
  const settings = request('the sea and the tide', { dim: 8, heads: 2, layers: 3, contextLength: 32, seed: 5 });
  const model = analyzer.model(settings);
  const vocabSize = analyzer.tokenizer(settings).vocabSize;
  assert.deepEqual(model.config, { vocabSize, contextLength: 32, dim: 8, heads: 2, layers: 3, qkvBias: false, layerNormEps: 1e-5 });
  assert.equal(model.source, 'seeded 5 (untrained)');
  const expected = createSeededGpt(model.config, 5);
  for (const [name, tensor] of gptToTensors(expected.weights)) assert.deepEqual(gptToTensors(model.weights).get(name)!.data, tensor.data, name);
  const run = analyzer.analyzeModel(settings);
  assert.equal(run.model, model, 'kept');
  assertClose(run.forward.logits!, gptForward(expected, run.tokens.map((t) => t.id)).logits!, { atol: 0, label: 'logits' });
  assert.notEqual(analyzer.model({ ...settings, seed: 6 }), model, 'a new seed, a new model');
  assert.equal(analyzer.model({ ...settings, layers: 1 }).config.layers, 1);
  assert.equal(analyzer.model({ ...settings, layers: undefined }).config.layers, DEFAULT_LAYERS);
  assert.equal(analyzer.model({ ...settings, dropout: 0.1 }).config.layers, 3, 'dropout is not the model’s');
  assert.throws(() => analyzer.model({ ...settings, heads: 3 }), { message: 'heads (3) must divide dim (8); valid head counts: 1, 2, 4, 8', setting: 'heads' });
});

test('an old stages file is refused, saying what to use instead', () => {
  const stages = path.join(__dirname, '..', 'fixtures', 'engine', 'default', 'weights.safetensors');
  const settings = request('the sea', { weightsPath: stages });
  const fix = /holds the seven stages' own weights \(self_attn\.\*, mha\.\*, norm\.\*\), a format the playground no longer reads: the stages are now block 1 of the model\. Use a GPT checkpoint instead .*llm101 analyze --save-weights FILE.*a Hugging Face GPT-2 folder, or no weights file for the seeded model$/;
  for (const call of [() => new Analyzer().analyze(settings), () => new Analyzer().model(settings), () => new Analyzer().tokenizer(settings)]) {
    assert.throws(call, (err: Error) => err.name === 'GptCheckpointError' && fix.test(err.message) && err.message.includes(stages));
  }
});

test('one model: at dropout 0, stage 6 head h is the blocks section’s layer 1 head h, and stage 7 its norm2, for any seed and sizes', () => {
  const analyzer = new Analyzer();
  const text = 'the sea and the tide and the sea again';
  let worst = 0;
  for (const sizes of [{}, { seed: 7 }, { seed: 2024, dim: 12, heads: 3, layers: 1 }, { seed: 5, dim: 16, heads: 8, qkvBias: true, layers: 3 }, { tokenizer: 'bpe' as const, seed: 11, dim: 8, heads: 2 }]) {
    const settings = request(text, { ...sizes, dropout: 0 });
    const result = analyzer.analyze(settings);
    assert.ok(result.kind === 'trace');
    const { trace } = result;
    const run = analyzer.analyzeModel(settings);
    const block1 = traceGptBlock(run.model, run.forward, 0);
    assert.equal(trace.config.stages, 'block 1');
    assert.equal(trace.multiHead.heads.length, run.model.config.heads);
    trace.multiHead.heads.forEach((head, h) => {
      worst = Math.max(worst, assertClose(head.weights, block1.attention.heads[h]!.weights, { atol: 1e-6, label: `${JSON.stringify(sizes)} head ${h + 1}` }));
      worst = Math.max(worst, assertClose(head.droppedWeights, block1.attention.heads[h]!.weights, { atol: 1e-6, label: `${JSON.stringify(sizes)} head ${h + 1} after dropout 0` }));
    });
    worst = Math.max(worst, assertClose(trace.layerNorm.input, block1.afterAttention, { atol: 1e-6, label: 'x + MHA(LN₁(x))' }));
    worst = Math.max(worst, assertClose(trace.layerNorm.output, block1.norm2, { atol: 1e-6, label: 'stage 7 = LN₂' }));
    assert.deepEqual(trace.embeddings.input.data, run.forward.embeddings.data, 'the embeddings are the model’s');
  }
  console.log(`stages vs the model's block 1 over five seeds and sizes, max abs diff ${worst.toExponential(2)}`);
});

test('layers is checked with the other settings before any work (one validator, one message)', () => {
  for (const layers of [0, 2.5, 49, -1]) {
    const message = `layers must be a whole number from 1 to 48, got ${layers}`;
    assert.throws(() => validateSettings({ ...DEFAULT_CONFIG, layers }), { message });
    const stages: string[] = [];
    assert.throws(() => new Analyzer().model(request('the sea', { tokenizer: 'bpe', layers }), { onProgress: (s) => stages.push(s) }), { message });
    assert.throws(() => new Analyzer().analyzeModel(request('the sea', { layers })), { message });
    assert.throws(() => new Analyzer().analyze(request('the sea', { layers })), { message });
    assert.deepEqual(stages, [], 'no BPE training before the check');
  }
  validateSettings({ ...DEFAULT_CONFIG, layers: 48 });
});

test('bad checkpoints: the reader’s one-line message, heads named when the file has none', () => {
  const c = loadBookCase('book-small');
  const file = path.join(c.folder, 'weights.safetensors');
  const words = writeWordCorpus(scratch, c.config.vocabSize);
  const text = textOfIds(c.ids, c.config.vocabSize);
  assert.throws(
    () => new Analyzer().analyze(request(text, { weightsPath: file, corpusPath: words, heads: 7 })),
    { message: `checkpoint ${file}: heads (7) must divide dim (32); valid head counts: 1, 2, 4, 8, 16, 32`, setting: 'heads' },
  );
  const tensors = gptToTensors(readGptCheckpoint(file, { heads: 4 }).model.weights);
  tensors.delete('trf_blocks.1.ff.layers.2.weight');
  const broken = path.join(scratch, 'broken.safetensors');
  fs.writeFileSync(broken, writeSafetensors(tensors, { heads: '4' }));
  assert.throws(
    () => new Analyzer().analyzeModel(request(text, { weightsPath: broken, corpusPath: words })),
    (err: Error) => err.name === 'GptCheckpointError' && /trf_blocks\.1\.ff\.layers\.2\.weight/.test(err.message) && !err.message.includes('\n'),
  );
  const emptyFolder = fs.mkdtempSync(path.join(scratch, 'hf-'));
  assert.throws(() => new Analyzer().model(request('the sea', { weightsPath: emptyFolder })), /has no model\.safetensors/);
});
