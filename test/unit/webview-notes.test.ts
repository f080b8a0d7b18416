// What the panel says about its numbers (webview/notes.ts): the stage-3 saturation note is true for
// the numbers it is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixed, isSeeded, journeyNote, marksLegend, saturation, saturated, simpleAttentionNote, trainedNote, visible, weightsNote, type Cells } from '../../webview/notes';

const cells = (rows: number[][]): Cells => ({ rows: rows.length, cols: rows[0]?.length ?? 0, value: (r, c) => rows[r]?.[c] ?? 0 });

function softmaxRows(scores: number[][]): number[][] {
  return scores.map((row) => {
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  });
}

test('a dominant diagonal is reported as saturated, with the numbers that show it', () => {
  const scores = [[60, 10, -5], [10, 55, 3], [-5, 3, 70]];
  const s = saturation(cells(scores), cells(softmaxRows(scores)));
  assert.equal(s.diagonal, (60 + 55 + 70) / 3);
  assert.equal(s.offDiagonal, (10 + 10 + 3) / 3);
  assert.equal(s.oneHotRows, 3);
  assert.ok(saturated(s));
  const text = simpleAttentionNote(s, 28, true);
  assert.match(text, /nearly one-hot/);
  assert.match(text, /3 of 3 rows/);
  assert.match(text, /2·dim = 56/);
  assert.match(text, /√d_k/);
});

test('small scores mix, and the note does not claim saturation', () => {
  const scores = [[0.99, 0.7, 0.5], [0.7, 1.2, 0.9], [0.5, 0.9, 0.8]];
  const s = saturation(cells(scores), cells(softmaxRows(scores)));
  assert.equal(s.oneHotRows, 0);
  assert.ok(!saturated(s));
  const text = simpleAttentionNote(s, 3, false);
  assert.doesNotMatch(text, /one-hot/);
  assert.doesNotMatch(text, /N\(0, 1\)/, 'weights from a file are not drawn from N(0, 1)');
  assert.match(text, /mix/);
  assert.match(journeyNote(s), /mix/);
});

test("weights notes: seeded (or unset) says untrained; a file names itself; the stages say they are the model's block 1", () => {
  assert.equal(weightsNote(undefined, 123), "Seeded, untrained (seed 123): the shapes are real, the values are not learned. These stages are the model's block 1: section 9's layer 1, head for head.");
  assert.match(weightsNote('seeded', 7), /seed 7/);
  assert.match(weightsNote('gpt-small.safetensors', 7, 'block 1'), /^Weights from gpt-small\.safetensors: .* These stages are the model's block 1/);
  assert.match(weightsNote(undefined, 7, 'book chapter 3'), /^The book's chapter 3 example: its own small modules \(d_in 3, d_out 2\), not a model's block\.$/);
  assert.ok(isSeeded(undefined) && isSeeded('seeded') && isSeeded('seeded 5 (untrained)') && !isSeeded('seeded-run.safetensors'), 'one check for stages and model');
});

test('a trained checkpoint says how far it was trained, its losses in nats and the uniform guess to read them by', () => {
  const trained = { step: 400, trainLoss: 2.1534, valLoss: 7.301, corpus: 'corpus' };
  assert.equal(trainedNote(trained, 972), 'Trained 400 steps on corpus: train loss 2.15, validation loss 7.30 (nats per token; guessing uniformly over its 972 tokens scores 6.88).');
  assert.equal(trainedNote({ step: 1500 }), 'Trained 1,500 steps.');
  assert.equal(trainedNote({ step: 60, valLoss: 4.6 }), 'Trained 60 steps: validation loss 4.60 (nats per token).');
  assert.match(weightsNote('poems (bundled)', 123, 'block 1', trained, 972), /^Weights from poems \(bundled\): these values are the file's, not drawn from the seed\. Trained 400 steps on corpus: .* These stages are the model's block 1/);
  assert.doesNotMatch(weightsNote('seeded', 123, 'block 1', trained, 972), /Trained/, 'seeded weights were not trained');
});

test('table numbers never read -0.00000; whitespace marks are explained only when present', () => {
  assert.equal(fixed(-0.000001), '0.00000');
  assert.equal(fixed(-0.5), '-0.50000');
  assert.equal(marksLegend(['Each', 'night']), '');
  const labels = ['a', visible(' b'), visible('\n')];
  assert.equal(marksLegend(labels), '· is a space, ↵ a line break');
});
