// The GPT model's layers and forward pass against PyTorch (scripts/gen_gpt_fixtures.py): every
// intermediate within 1e-5, logits within 1e-4, through assertClose; the inference form against
// the traced form bit for bit; seeded initialisation against torch.manual_seed + GPTModel.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { createSeededGpt } from '../../src/engine/gpt/init';
import type { GptModel } from '../../src/engine/gpt/types';
import { gptToTensors, readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { geluScalar } from '../../src/engine/layers/gelu';
import { feedForward, feedForwardTraced } from '../../src/engine/layers/feedForward';
import { gptForward, traceGptBlock, traceGptFeedForward } from '../../src/engine/layers/gptModel';
import type { Matrix } from '../../src/engine/types';
import { assertClose } from './assertClose';
import { BOOK_CASES, loadBookCase, readTensors, ref } from './gpt-fixtures';

const report: string[] = [];
const close = (actual: Matrix | Float32Array, expected: Matrix, label: string, atol = 1e-5) => {
  const diff = assertClose(actual, expected, { atol, label });
  report.push(`${label}: ${diff.toExponential(2)}`);
};

function loadModel(name: string): GptModel {
  const c = loadBookCase(name);
  return readGptCheckpoint(path.join(c.folder, 'weights.safetensors'), { heads: c.config.heads }).model;
}

for (const name of BOOK_CASES) {
  test(`${name}: every block's intermediates, the final norm and the logits agree with torch`, () => {
    const c = loadBookCase(name);
    const model = loadModel(name);
    assert.deepEqual(model.config, c.config);
    const forward = gptForward(model, c.ids, { keepResiduals: true });
    close(forward.embeddings, ref(c.reference, 'embeddings'), `${name} embeddings`);
    for (let l = 0; l < c.config.layers; l++) {
      const block = traceGptBlock(model, forward, l);
      const at = (part: string) => ref(c.reference, `blocks.${l}.${part}`);
      close(block.norm1, at('norm1'), `${name} block ${l} norm1`);
      // (heads, T, T) side by side in the fixture: head h is rows h·T .. (h+1)·T − 1
      const weights = new Float32Array(block.attention.heads.flatMap((head) => Array.from(head.weights.data)));
      close(weights, at('attnWeights'), `${name} block ${l} attention weights (all heads)`);
      close(block.afterAttention, at('afterAttention'), `${name} block ${l} after attention shortcut`);
      close(block.norm2, at('norm2'), `${name} block ${l} norm2`);
      close(block.ff.preActivation, at('ffPreActivation'), `${name} block ${l} ff pre-activation`);
      close(block.ff.hidden, at('ffHidden'), `${name} block ${l} ff hidden (GELU)`);
      close(block.ff.output, at('ffOutput'), `${name} block ${l} ff output`);
      close(block.output, at('output'), `${name} block ${l} output`);
      // the traced block recomputed from the stream is the forward's own numbers, bit for bit
      assert.deepEqual(block.output.data, forward.blocks[l]!.output.data);
      assert.deepEqual(block.afterAttention.data, forward.blocks[l]!.afterAttention.data);
      // the feed-forward alone, from the kept stream (the panel's feed-forward section): the same numbers
      const ff = traceGptFeedForward(model, forward, l);
      close(ff.hidden, at('ffHidden'), `${name} block ${l} ff hidden, without the attention`);
      assert.deepEqual(ff.preActivation.data, block.ff.preActivation.data);
      assert.deepEqual(ff.hidden.data, block.ff.hidden.data);
    }
    close(forward.finalNorm, ref(c.reference, 'finalNorm'), `${name} final norm`);
    close(forward.logits!, ref(c.reference, 'logits'), `${name} logits`, 1e-4);
  });

  test(`${name}: the forward without residuals, with last-row logits, gives the same logits bit for bit`, () => {
    const c = loadBookCase(name);
    const model = loadModel(name);
    const all = gptForward(model, c.ids).logits!;
    const last = gptForward(model, c.ids, { logits: 'last' }).logits!;
    assert.equal(last.rows, 1);
    assert.deepEqual(last.data, all.data.subarray((all.rows - 1) * all.cols));
    assert.equal(gptForward(model, c.ids, { logits: 'none' }).logits, undefined);
  });
}

test('feedForward: the inference form equals the traced form; GELU of the pre-activations is the hidden layer', () => {
  const model = loadModel('book-small');
  const c = loadBookCase('book-small');
  const x = ref(c.reference, 'blocks.1.norm2');
  const traced = feedForwardTraced(x, model.weights.blocks[1]!.ff);
  assert.deepEqual(feedForward(x, model.weights.blocks[1]!.ff).data, traced.output.data);
  assert.equal(traced.hidden.cols, 4 * c.config.dim);
  traced.preActivation.data.forEach((v, i) => assert.equal(traced.hidden.data[i], Math.fround(geluScalar(v))));
});

test('seeded initialisation is torch.manual_seed(seed); GPTModel(cfg), tensor by tensor', () => {
  for (const [name, file] of [['book-small', 'weights.safetensors'], ['book-qkv-bias', 'init.safetensors']] as const) {
    const c = loadBookCase(name);
    const ours = gptToTensors(createSeededGpt(c.config, c.seed).weights);
    const torch = readTensors(path.join(c.folder, file));
    let worst = 0;
    for (const [tensor, value] of ours) {
      // normal_ draws by float32 Box-Muller: within an ulp of torch (rng.ts); uniform ones are exact
      worst = Math.max(worst, assertClose(value.data, ref(torch, tensor), { atol: 1e-6, label: `${name} init ${tensor}` }));
    }
    report.push(`${name} init, worst tensor: ${worst.toExponential(2)}`);
    assert.equal(ours.size, [...torch.keys()].filter((k) => !k.endsWith('.mask')).length);
  }
});

test('traceGptBlock needs the residual stream for blocks after the first', () => {
  const c = loadBookCase('book-small');
  const model = loadModel('book-small');
  const forward = gptForward(model, c.ids);
  assert.doesNotThrow(() => traceGptBlock(model, forward, 0));
  assert.throws(() => traceGptBlock(model, forward, 1), /keepResiduals/);
  assert.throws(() => traceGptFeedForward(model, forward, 0), /keepResiduals/);
});

test('report: largest difference per tensor', () => {
  console.log(report.join('\n'));
});
