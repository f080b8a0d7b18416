// Every stage of the engine against PyTorch (scripts/gen_fixtures.py) for every fixture shape, as
// the book's chapter 3 modules with their own weights: heads 7, attnDim ≠ dim, qkvBias on, T = 1,
// T = contextLength, no dropout, the default dims. Block 1 of the model: pipeline-gpt.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runTrace } from '../../src/engine/trace';
import type { Matrix, Trace } from '../../src/engine/types';
import { assertClose, maxAbsDiff } from './assertClose';
import { caseNames, loadCase, seededStages, tokensFromIds } from './engine-fixtures';
import { causalAttention } from '../../src/engine/layers/causalAttention';
import { simpleAttention } from '../../src/engine/layers/simpleAttention';
import { TorchGenerator } from '../../src/engine/rng';
import { matmul, matmulTransposed, softmaxRows } from '../../src/engine/tensor';

/** The trace's tensors under the fixture names ('causal.weights', 'multiHead.heads.2.context', ...). */
function traceTensors(trace: Trace): Map<string, Matrix | Float32Array> {
  const named = new Map<string, Matrix | Float32Array>();
  const stages = {
    embeddings: trace.embeddings,
    simple: trace.simple,
    selfAttention: trace.selfAttention,
    causal: trace.causal,
    layerNorm: trace.layerNorm,
  };
  for (const [stage, parts] of Object.entries(stages)) {
    for (const [part, value] of Object.entries(parts)) named.set(`${stage}.${part}`, value as Matrix | Float32Array);
  }
  trace.multiHead.heads.forEach((head, h) => {
    for (const [part, value] of Object.entries(head)) named.set(`multiHead.heads.${h}.${part}`, value);
  });
  named.set('multiHead.concat', trace.multiHead.concat);
  named.set('multiHead.output', trace.multiHead.output);
  return named;
}

const worstPerStage = new Map<string, number>();

for (const name of caseNames()) {
  describe(`PyTorch fixture ${name}`, () => {
    const fixture = loadCase(name);
    const trace = runTrace(tokensFromIds(fixture.ids), fixture.source, fixture.run);
    const ours = traceTensors(trace);

    test('the trace has every tensor PyTorch produced, and no other', () => {
      assert.deepEqual([...ours.keys()].sort(), [...fixture.reference.keys()].sort());
    });

    for (const [stage, expected] of fixture.reference) {
      test(`${stage} matches PyTorch float32 within 1e-5`, () => {
        const actual = ours.get(stage);
        assert.ok(actual, `the trace lacks ${stage}`);
        const diff = assertClose(actual, expected, { atol: 1e-5, label: `${name} ${stage}` });
        // The float64 run keeps its intermediates in double while the engine (like PyTorch) stores
        // each stage in float32, so the two may differ by a float32 ulp of the value (7.6e-6 near
        // 84, a typical diagonal of x·xᵀ at dim 28): hence the relative part.
        const exact = fixture.reference64?.get(stage);
        const diff64 = exact
          ? assertClose(actual, exact, { atol: 1e-5, rtol: 2 ** -23, label: `${name} ${stage} (float64)` })
          : NaN;
        console.log(`stage ${name} ${stage}: max abs diff = ${diff.toExponential(2)} (vs float64 ${diff64.toExponential(2)})`);
        const key = stage.replace(/heads\.\d+/, 'heads.*');
        worstPerStage.set(key, Math.max(worstPerStage.get(key) ?? 0, diff));
      });
    }

    test('dropout masks equal PyTorch exactly (same entries zeroed)', () => {
      const pairs: [string, Matrix][] = [['causal.droppedWeights', trace.causal.droppedWeights]];
      trace.multiHead.heads.forEach((head, h) => pairs.push([`multiHead.heads.${h}.droppedWeights`, head.droppedWeights]));
      for (const [stage, ours] of pairs) {
        const theirs = fixture.reference.get(stage)!;
        const weights = fixture.reference.get(stage.replace('droppedWeights', 'weights'))!;
        for (let i = 0; i < ours.data.length; i++) {
          if (weights.data[i] === 0) continue; // above the diagonal: 0 whether kept or not
          assert.equal(ours.data[i] === 0, theirs.data[i] === 0, `${name} ${stage} entry ${i}`);
        }
      }
    });
  });
}

test('largest difference per stage over all fixtures', () => {
  assert.ok(worstPerStage.size > 20, 'the stage tests ran');
  for (const [stage, diff] of [...worstPerStage].sort()) console.log(`worst ${stage}: max abs diff = ${diff.toExponential(2)}`);
  // a sanity check of the helper itself: it must see a difference where there is one
  assert.equal(maxAbsDiff([1, 2, 3], [1, 2.5, 3]).index, 1);
});

test("a trace's simple, self-attention and causal maps are computed when first read: the same bits as at once, the heads' masks unchanged", () => {
  const { source, run } = seededStages({ vocabSize: 50, dim: 24, heads: 3, contextLength: 64 }, { dropout: 0.4, seed: 7 });
  const tokens = tokensFromIds(Array.from({ length: 41 }, (_, i) => (i * 13) % 50));
  const trace = runTrace(tokens, source, run);
  for (const [stage, names] of [
    [trace.simple, ['scores', 'weights', 'context']],
    [trace.selfAttention, ['scores', 'weights', 'context']],
    [trace.causal, ['maskedScores', 'weights', 'droppedWeights', 'context']],
  ] as const) {
    for (const name of names) assert.ok(Object.getOwnPropertyDescriptor(stage, name)?.get, `${name} is read through a getter`);
  }
  // at once, as the stages computed them before
  assert.deepEqual({ ...trace.simple }, simpleAttention(trace.embeddings.input));
  const { queries, keys, values } = trace.selfAttention;
  const scores = matmulTransposed(queries, keys);
  const weights = softmaxRows(scores, Math.sqrt(keys.cols));
  assert.deepEqual({ ...trace.selfAttention }, { queries, keys, values, scores, weights, context: matmul(weights, values) });
  // the causal mask is the generator's first draw, the heads' come after it
  const causal = causalAttention(queries, keys, values, { p: 0.4, generator: new TorchGenerator(7) });
  assert.deepEqual({ ...trace.causal }, { maskedScores: causal.scores, weights: causal.weights, droppedWeights: causal.droppedWeights, context: causal.context });
  const again = runTrace(tokens, source, run);
  again.multiHead.heads.forEach((head, h) => assert.deepEqual(head.droppedWeights, trace.multiHead.heads[h]!.droppedWeights, `head ${h}, its maps read before the causal stage's`));
});
