// What the model sections say and draw (webview/modelNotes.ts): where the weights come from, the
// GELU curve under the pre-activations, the residual stream's stations, the share of probability
// the bars hold, and the sampling knobs' checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { geluCurve, geluCurveAt, geluRange, hiddenShareNote, maxNewTokensProblem, modelWeightsNote, nextTokenSummary, residualStations, samplingProblem, topKOf } from '../../webview/modelNotes';
import { isSeeded } from '../../webview/notes';
import { assertClose } from './assertClose';

test('a seeded model says it is random; a checkpoint names itself', () => {
  assert.ok(isSeeded('seeded 123 (untrained)'));
  assert.equal(modelWeightsNote('seeded 123 (untrained)'), 'Seeded 123, untrained: random: the shapes are real, the numbers mean nothing yet.');
  assert.ok(!isSeeded('gpt2-small.safetensors'));
  assert.match(modelWeightsNote('model.safetensors'), /^Weights from model\.safetensors/);
  assert.doesNotMatch(modelWeightsNote('model.safetensors'), /random|untrained/);
  assert.match(modelWeightsNote('poems (bundled)', { step: 400, trainLoss: 2.15, valLoss: 7.3 }, 972), /^Weights from poems \(bundled\): .* Trained 400 steps: train loss 2\.15, validation loss 7\.30 \(nats per token; guessing uniformly over its 972 tokens scores 6\.88\)\.$/);
});

test('the GELU curve is the tanh approximation: GELU(0) = 0, its minimum near −0.17 at x ≈ −0.75, x for large x', () => {
  assert.equal(geluCurveAt(0), 0);
  assertClose(new Float32Array([geluCurveAt(1)]), new Float32Array([0.8411920071]), { atol: 1e-6 }); // torch GELU(tanh) at 1
  assertClose(new Float32Array([geluCurveAt(-0.75)]), new Float32Array([-0.16997]), { atol: 2e-4 });
  assert.equal(geluCurveAt(10), 10);
  const curve = geluCurve(-4, 4, 8);
  assert.equal(curve.length, 9);
  assert.deepEqual([curve[0]?.x, curve[8]?.x], [-4, 4]);
});

test('the GELU chart covers every pre-activation and at least −3..3', () => {
  const [lo, hi] = geluRange(new Float32Array([-0.5, 0.2, 7]));
  assert.ok(lo < -3 && hi > 7, `${lo}..${hi}`);
  const [a, b] = geluRange(new Float32Array([Number.NaN, 0.1]));
  assert.ok(a < -3 && b > 3 && Number.isFinite(a) && Number.isFinite(b));
});

test('the hidden-values note gives the shares as percentages and counts layers from 1', () => {
  const text = hiddenShareNote({ negative: 0.513, nearZero: 0.004 }, 0);
  assert.match(text, /^In layer 1, 51\.3% of the hidden values are negative/);
  assert.match(text, /0\.4% are within 0\.001 of 0/);
});

test('the residual stations run embeddings, then per layer + attention and + feed-forward, with means and one token', () => {
  const f = (...v: number[]) => Float32Array.from(v);
  const norms = [
    { input: f(1, 3), afterAttention: f(2, 4), output: f(3, 5) },
    { input: f(3, 5), afterAttention: f(6, 8), output: f(7, 9) },
  ];
  const stations = residualStations(norms, 1);
  assert.deepEqual(stations.map((s) => s.label), ['embeddings', 'L1 + attention', 'L1 + feed-fwd', 'L2 + attention', 'L2 + feed-fwd']);
  assert.deepEqual(stations.map((s) => s.mean), [2, 3, 4, 7, 8]);
  assert.deepEqual(stations.map((s) => s.token), [3, 4, 5, 8, 9]);
});

test('the sentence under the bars adds up what they show, and says what temperature and top-k did', () => {
  const view = { position: 3, temperature: 1, topK: null, tokens: [{ id: 1, text: 'a', probability: 0.25 }, { id: 2, text: 'b', probability: 0.125 }] };
  const { shown, text } = nextTokenSummary(view, 100);
  assert.equal(shown, 0.375);
  assert.match(text, /These 2 bars hold 37\.5% of the probability; the other 98 tokens/);
  assert.match(text, /No top-k cut: all 100 tokens/);
  const cut = nextTokenSummary({ ...view, topK: 2 }, 100).text;
  assert.match(cut, /Top-k 2: only the 2 most likely tokens keep probability, renormalised/);
  assert.match(cut, /the other 98 tokens get 0\./);
  assert.doesNotMatch(cut, /share the rest/);
  assert.match(nextTokenSummary({ ...view, temperature: 0 }, 100).text, /greedy/);
});

test('sampling knobs: temperature 0..10, top-k a whole number from 1 or empty; max new tokens 1..max', () => {
  assert.equal(samplingProblem('1', ''), undefined);
  assert.equal(samplingProblem('0', '0'), undefined);
  assert.equal(samplingProblem('0.7', '40'), undefined);
  assert.match(samplingProblem('-1', '') ?? '', /temperature \(-1\) must be a number from 0 to 10/);
  assert.match(samplingProblem('', '') ?? '', /temperature/);
  assert.match(samplingProblem('11', '') ?? '', /temperature/);
  assert.match(samplingProblem('1', '2.5') ?? '', /top-k \(2\.5\) must be a whole number from 1/);
  assert.match(samplingProblem('1', '-3') ?? '', /top-k/);
  assert.equal(topKOf(''), null);
  assert.equal(topKOf('0'), null);
  assert.equal(topKOf('5'), 5);
  assert.equal(maxNewTokensProblem('30', 1000), undefined);
  assert.match(maxNewTokensProblem('0', 1000) ?? '', /from 1 to 1000/);
  assert.match(maxNewTokensProblem('1.5', 1000) ?? '', /whole number/);
});
