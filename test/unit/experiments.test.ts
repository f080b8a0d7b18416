// The experiments against Hugging Face's GPT2LMHeadModel run with forward hooks
// (scripts/gen_experiment_fixtures.py): logit lens, head scores, ablation, direct logit
// attribution and activation patching on a small trained GPT-2-layout model, every number within 1e-4.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { ablate, scanHeads } from '../../src/engine/experiments/ablation';
import { attribute } from '../../src/engine/experiments/attribution';
import { headScores, inductionProbe } from '../../src/engine/experiments/headScores';
import { logitLens } from '../../src/engine/experiments/lens';
import { activationPatching } from '../../src/engine/experiments/patching';
import { runWithCache } from '../../src/engine/experiments/run';
import { CancelledError, EngineError } from '../../src/engine/config';
import { gptForward } from '../../src/engine/layers/gptModel';
import { readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { assertClose } from './assertClose';
import { readJson } from './gpt-fixtures';
import { EXPERIMENT_FIXTURES, type ExperimentCase } from './experiments-fixtures';

const fixture = readJson<ExperimentCase>(path.join(EXPERIMENT_FIXTURES, 'case.json'));
const model = readGptCheckpoint(path.join(EXPERIMENT_FIXTURES, 'model')).model;
const bytes = (text: string) => Array.from(Buffer.from(text, 'utf8'));
const ATOL = 1e-4;

test('the fixture model loads with the sizes the script gave it', () => {
  assert.deepEqual(
    { vocab: model.config.vocabSize, dim: model.config.dim, heads: model.config.heads, layers: model.config.layers },
    { vocab: 256, dim: 32, heads: 4, layers: 3 },
  );
  assert.deepEqual(bytes(fixture.text), fixture.ids);
});

test('hooks leave the forward unchanged: a hooked run gives the plain forward\'s logits bit for bit', () => {
  const plain = gptForward(model, fixture.ids);
  const hooked = runWithCache(model, fixture.ids, { z: true, patterns: true, outputs: true });
  assert.deepEqual(Array.from(hooked.logits.data), Array.from(plain.logits!.data));
});

test('logit lens: every layer\'s top 5 and the final prediction\'s probability per layer', () => {
  const cache = runWithCache(model, fixture.ids);
  const lens = logitLens(model, cache);
  assert.equal(lens.top.length, model.config.layers + 1);
  assert.deepEqual(lens.top.map((row) => row.map((cell) => cell.map((c) => c.id))), fixture.lens.top.map((row) => row.map((cell) => cell.map((c) => c.id))));
  assertClose(lens.top.map((row) => row.map((cell) => cell.map((c) => c.p))), fixture.lens.top.map((row) => row.map((cell) => cell.map((c) => c.p))), { atol: ATOL, label: 'lens probabilities' });
  assertClose(lens.final, fixture.lens.final, { atol: ATOL, label: 'final prediction per layer' });
  // the last row is the model's own next-token distribution
  // a long text's lens reads its last positions: the same cells
  const tail = logitLens(model, cache, { from: 30 });
  assert.deepEqual(tail.top, lens.top.map((row) => row.slice(30)));
  assert.deepEqual(tail.final, lens.final.map((row) => row.slice(30)));
  const last = lens.top[model.config.layers]!;
  last.forEach((cell, t) => assert.equal(cell[0]!.id, argmaxRow(cache.logits.data, t, model.config.vocabSize)));
});

function argmaxRow(data: Float32Array, row: number, cols: number): number {
  let best = 0;
  for (let i = 1; i < cols; i++) if (data[row * cols + i]! > data[row * cols + best]!) best = i;
  return best;
}

test('head scores: previous-token, first-token, self and induction per head', () => {
  assert.deepEqual(inductionProbe(fixture.probe.length, fixture.probe.seed, model.config.vocabSize), fixture.probe.ids, 'the probe is torch.randint(0, vocab, (N,)) after manual_seed, repeated');
  const scores = headScores(model, runWithCache(model, fixture.ids, { patterns: true }), fixture.probe.ids);
  for (const role of ['previousToken', 'firstToken', 'selfToken', 'induction'] as const) {
    assertClose(scores.map((row) => row.map((s) => s[role]!)), fixture.headScores.map((row) => row.map((s) => s[role]!)), { atol: ATOL, label: role });
  }
});

test('head scores refuse a probe that is not a sequence given twice, and one longer than the context', () => {
  const cache = runWithCache(model, fixture.ids, { patterns: true });
  assert.throws(() => headScores(model, cache, [1, 2, 3, 1, 2, 4]), (err: Error) => err instanceof EngineError && /given twice/.test(err.message));
  assert.throws(() => headScores(model, cache, inductionProbe(40, 1, 256)), (err: Error) => err instanceof EngineError && /at most 32/.test(err.message));
});

for (const [index, expected] of fixture.ablations.entries()) {
  test(`ablation ${index + 1}: ${expected.mode} on ${expected.heads.map(([l, h]) => `${l + 1}.${h + 1}`).join(', ')} at position ${expected.position}`, () => {
    const base = runWithCache(model, fixture.ids, { z: true });
    const result = ablate(model, base, expected.heads.map(([layer, head]) => ({ layer, head })), expected.mode, expected.position);
    assert.deepEqual(result.before.map((b) => b.id), expected.before.map((b) => b.id));
    assert.deepEqual(result.after.map((b) => b.id), expected.after.map((b) => b.id));
    assertClose(result.before.map((b) => b.p), expected.before.map((b) => b.p), { atol: ATOL, label: 'before' });
    assertClose(result.after.map((b) => b.p), expected.after.map((b) => b.p), { atol: ATOL, label: 'after' });
    assertClose([result.kl, result.lossBefore!, result.lossAfter!], [expected.kl, expected.lossBefore, expected.lossAfter], { atol: ATOL, label: 'kl, loss before, loss after' });
    assert.notEqual(result.lossAfter, result.lossBefore);
  });
}

for (const mode of ['zero', 'mean'] as const) {
  test(`scan all heads (${mode}): the loss increase of each head alone, with progress`, () => {
    const base = runWithCache(model, fixture.ids, { z: true });
    const progress: number[] = [];
    const grid = scanHeads(model, base, mode, { onProgress: (done, total) => progress.push(done / total) });
    assertClose(grid, fixture.scan[mode], { atol: ATOL, label: `scan ${mode}` });
    assert.equal(progress.length, 12);
    assert.equal(progress.at(-1), 1);
  });
}

test('scan and patching stop with CancelledError once cancelled', () => {
  const base = runWithCache(model, fixture.ids, { z: true });
  const signal = { aborted: false };
  let runs = 0;
  assert.throws(() => scanHeads(model, base, 'zero', { signal, onProgress: () => void (++runs === 3 && (signal.aborted = true)) }), CancelledError);
  assert.equal(runs, 3);
  const { cleanText, corruptText, answer, wrong } = fixture.patching;
  assert.throws(() => activationPatching(model, bytes(cleanText), bytes(corruptText), answer.charCodeAt(0), wrong.charCodeAt(0), { signal: { aborted: true } }), CancelledError);
});

for (const expected of fixture.attributions) {
  test(`direct logit attribution of token ${expected.id} at position ${expected.position}: parts as torch's, summing to the logit`, () => {
    const cache = runWithCache(model, fixture.ids, { z: true, outputs: true });
    const parts = attribute(model, cache, expected.position, expected.id);
    assertClose(parts.logit, expected.logit, { atol: ATOL, label: 'logit' });
    assertClose([parts.embed, parts.finalNormBias], [expected.embed, expected.finalNormBias], { atol: ATOL, label: 'embed, final norm bias' });
    assertClose(parts.heads, expected.heads, { atol: ATOL, label: 'heads' });
    assertClose(parts.attnBias, expected.attnBias, { atol: ATOL, label: 'attention biases' });
    assertClose(parts.mlps, expected.mlps, { atol: ATOL, label: 'MLPs' });
    const sum = parts.embed + parts.finalNormBias + parts.heads.flat().reduce((a, b) => a + b, 0) + parts.attnBias.reduce((a, b) => a + b, 0) + parts.mlps.reduce((a, b) => a + b, 0);
    assertClose(sum, parts.logit, { atol: ATOL, label: 'sum of the parts against the logit' });
  });
}

test('activation patching: the restored fraction of the logit difference per layer and position', () => {
  const { cleanText, corruptText, answer, wrong } = fixture.patching;
  const result = activationPatching(model, bytes(cleanText), bytes(corruptText), answer.charCodeAt(0), wrong.charCodeAt(0));
  assertClose([result.clean, result.corrupt], [fixture.patching.clean, fixture.patching.corrupt], { atol: ATOL, label: 'm clean, m corrupt' });
  assertClose(result.grid, fixture.patching.grid, { atol: ATOL, label: 'patching grid' });
  assert.throws(() => activationPatching(model, bytes(cleanText), bytes(`${corruptText}x`), 1, 2), (err: Error) => err instanceof EngineError && /same count/.test(err.message));
});
