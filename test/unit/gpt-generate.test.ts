// Next-token distributions, sampling and generation against torch (the book's chapter 5
// generate, run by scripts/gen_gpt_fixtures.py), and the key/value cache against the uncached path.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { createKvCache, decodeStep, generate, generateEach, generateTokens, prefill, streamTokens } from '../../src/engine/gpt/generate';
import { kernelState } from '../../src/engine/kernels/pool';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { maskTopK, nextTokenDistribution, sampleIndex, topTokens } from '../../src/engine/gpt/sampling';
import type { GptModel } from '../../src/engine/gpt/types';
import { readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { gptForward } from '../../src/engine/layers/gptModel';
import { TorchGenerator } from '../../src/engine/rng';
import { assertClose } from './assertClose';
import { GPT_FIXTURES, loadBookCase, readJson, ref } from './gpt-fixtures';

function loadModel(name: string): GptModel {
  const c = loadBookCase(name);
  return readGptCheckpoint(path.join(c.folder, 'weights.safetensors'), { heads: c.config.heads }).model;
}

test('next-token distribution of the last position: softmax, and top-5 at temperature 0.7, as torch', () => {
  const c = loadBookCase('book-small');
  const logits = ref(c.reference, 'logits');
  const last = logits.data.subarray((logits.rows - 1) * logits.cols);
  const full = nextTokenDistribution(last);
  assertClose(full, c.lastProbabilities, { atol: 1e-7, label: 'softmax(logits)' });
  const top5 = nextTokenDistribution(last, { temperature: 0.7, topK: 5 });
  assertClose(top5, c.lastTop5Temperature07, { atol: 1e-7, label: 'softmax(top5(logits) / 0.7)' });
  assert.equal(top5.filter((p) => p > 0).length, 5);
  const bars = topTokens(full, 5);
  assert.equal(bars.length, 5);
  assert.ok(bars.reduce((sum, bar) => sum + bar.probability, 0) <= 1);
  assert.deepEqual(bars.map((bar) => bar.id).sort(), topTokens(top5, 5).map((bar) => bar.id).sort());
  const greedy = nextTokenDistribution(last, { temperature: 0 });
  assert.equal(greedy[bars[0]!.id], 1);
});

test('top-k keeps ties with the k-th largest, as the book\'s `logits < min_val` does', () => {
  const masked = maskTopK(Float32Array.from([1, 3, 2, 3, 0]), 1);
  assert.deepEqual(Array.from(masked), [-Infinity, 3, -Infinity, 3, -Infinity]);
  assert.throws(() => nextTokenDistribution(masked, { temperature: -1 }), /temperature must be 0/);
  assert.throws(() => nextTokenDistribution(masked, { topK: 0 }), /top-k must be a whole number/);
});

test("sampling draws torch's exponential_ stream and picks what torch.multinomial picks", () => {
  const s = readJson<{ exponentialSeed: number; exponentials: number[]; probabilities: number[]; multinomialSeeds: number[]; draws: number[] }>(
    path.join(GPT_FIXTURES, 'sampling.json'),
  );
  const generator = new TorchGenerator(s.exponentialSeed);
  const ours = s.exponentials.map(() => Math.fround(-Math.log1p(-generator.uniform64())));
  assert.deepEqual(ours, s.exponentials);
  const probabilities = Float32Array.from(s.probabilities);
  assert.deepEqual(s.multinomialSeeds.map((seed) => sampleIndex(probabilities, new TorchGenerator(seed))), s.draws);
});

for (const name of ['book-small', 'book-qkv-bias'] as const) {
  test(`${name}: greedy and sampled generation past the context length give torch's tokens, cached or not`, () => {
    const c = loadBookCase(name);
    const model = loadModel(name);
    assert.ok(c.prompt.length + 10 > c.config.contextLength, 'the fixture grows past the context (the crop)');
    for (const cache of [true, false]) {
      assert.deepEqual(generate(model, c.prompt, { maxNewTokens: 10, cache }), c.greedy, `greedy, cache ${cache}`);
      for (const s of c.sampled) {
        const options = { maxNewTokens: 10, temperature: s.temperature, topK: s.topK, seed: s.seed, cache };
        assert.deepEqual(generate(model, c.prompt, options), s.ids, `seed ${s.seed}, T ${s.temperature}, top-k ${s.topK}, cache ${cache}`);
      }
    }
  });
}

test('the key/value cache gives the uncached logits bit for bit at every position', () => {
  const c = loadBookCase('book-qkv-bias');
  const model = loadModel('book-qkv-bias');
  const ids = c.ids; // the whole context: 16 tokens
  const cache = createKvCache(model);
  const full = gptForward(model, ids).logits!; // (T, vocab)
  const row = (t: number) => full.data.subarray(t * full.cols, (t + 1) * full.cols);
  assert.deepEqual(prefill(model, cache, ids.slice(0, 3)), row(2));
  for (let t = 3; t < ids.length; t++) assert.deepEqual(decodeStep(model, cache, ids[t]!), row(t), `position ${t}`);
  assert.equal(cache.length, ids.length);
  assert.throws(() => decodeStep(model, cache, 0), /holds all 16 positions/);
});

test('a seeded model with several heads per thread split: cached and uncached sampling agree over 40 tokens', () => {
  // dim 64 and 4 heads, context 32: the prompt crop and the cache rebuild after it are exercised
  const model = createSeededGpt({ vocabSize: 97, contextLength: 32, dim: 64, heads: 4, layers: 3, qkvBias: true, layerNormEps: 1e-5 }, 9);
  const prompt = [5, 17, 3, 88, 41];
  const options = { maxNewTokens: 40, temperature: 1.2, topK: 20, seed: 4 };
  const cached = generate(model, prompt, options);
  assert.equal(cached.length, 40);
  assert.deepEqual(generate(model, prompt, { ...options, cache: false }), cached);
  assert.deepEqual(generate(model, prompt, options), cached, 'same seed, same tokens');
  assert.notDeepEqual(generate(model, prompt, { ...options, seed: 5 }), cached);
});

test('streaming yields token by token, stops on shouldStop, on an aborted signal and at eos', async () => {
  const model = loadModel('book-small');
  const c = loadBookCase('book-small');
  const seen: number[] = [];
  const tokens = generateTokens(model, c.prompt, { maxNewTokens: 10, shouldStop: () => seen.length >= 3 });
  let step = tokens.next();
  for (; !step.done; step = tokens.next()) {
    assert.equal(step.value.index, seen.length);
    seen.push(step.value.id);
  }
  assert.deepEqual(step.value, { reason: 'cancelled', ids: c.greedy.slice(0, 3) });

  const controller = new AbortController();
  const streamed: number[] = [];
  const stream = streamTokens(model, c.prompt, { maxNewTokens: 10, signal: controller.signal });
  for await (const token of stream) {
    streamed.push(token.id);
    if (streamed.length === 2) controller.abort();
  }
  assert.deepEqual(streamed, c.greedy.slice(0, 2));

  const eos = generateTokens(model, c.prompt, { maxNewTokens: 10, eosId: c.greedy[4] });
  let end = eos.next();
  while (!end.done) end = eos.next();
  assert.deepEqual(end.value, { reason: 'eos', ids: c.greedy.slice(0, 4) });
  assert.throws(() => generate(model, c.prompt, { maxNewTokens: 0 }), /max new tokens must be a whole number of at least 1/);
  assert.throws(() => generate(model, [], { maxNewTokens: 1 }), /the prompt has no tokens/);
});

test('a generation whose consumer throws gives its packed weights back, as one that ends does', () => {
  const model = loadModel('book-small');
  generate(model, [1, 2, 3], { maxNewTokens: 2 }); // packs and releases once, so the kernel's memory is set up
  const heap = kernelState();
  const packedMemory = () => ({ workspaceAt: heap.workspaceAt, holes: heap.holes.map((h) => ({ ...h })) });
  const before = packedMemory();
  // a generator left suspended holds its packing: what the check below would catch
  const suspended = generateTokens(model, [1, 2, 3], { maxNewTokens: 5 });
  suspended.next();
  assert.notDeepEqual(packedMemory(), before, 'a generation in progress holds packed weights');
  suspended.return({ reason: 'cancelled', ids: [] });
  assert.deepEqual(packedMemory(), before);
  const seen: number[] = [];
  assert.throws(() => generateEach(model, [1, 2, 3], { maxNewTokens: 5 }, ({ index }) => {
    seen.push(index);
    if (index === 1) throw new Error('the editor went away');
  }), /the editor went away/);
  assert.deepEqual(seen, [0, 1]);
  assert.deepEqual(packedMemory(), before, 'the packed weights are given back');
});
