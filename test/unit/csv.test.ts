import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { findMatrix, matrixToCsv } from '../../src/engine/csv';
import { runTrace } from '../../src/engine/trace';
import type { Token } from '../../src/engine/types';
import { seededStages } from './engine-fixtures';

const { source, run } = seededStages({ vocabSize: 10, dim: 4, heads: 2, contextLength: 8 }, { dropout: 0, seed: 1 });
const tokens: Token[] = [
  { id: 3, text: 'sea', start: 0, end: 3 },
  { id: 5, text: '"x"', start: 4, end: 7 },
  { id: 1, text: 'tide', start: 8, end: 12 },
];
const trace = runTrace(tokens, source, run);

test('paths name matrices anywhere in the trace, and nothing else', () => {
  assert.equal(findMatrix(trace, 'causal.weights'), trace.causal.weights);
  assert.equal(findMatrix(trace, 'multiHead.heads.1.context'), trace.multiHead.heads[1]?.context);
  for (const bad of ['causal', 'causal.nothing', 'tokens.0', 'multiHead.heads.9.context', 'layerNorm.mean']) {
    assert.equal(findMatrix(trace, bad), undefined, bad);
  }
});

test('CSV: a header of token texts for T×T maps, one quoted row per token, masked cells empty', () => {
  const lines = matrixToCsv(trace.causal.maskedScores, trace).trim().split('\n');
  assert.equal(lines.length, 4);
  assert.equal(lines[0], 'token,"sea","""x""","tide"');
  const first = lines[1]?.split(',') ?? [];
  assert.equal(first[0], '"sea"');
  assert.equal(Number(first[1]), trace.causal.maskedScores.data[0]);
  assert.deepEqual(first.slice(2), ['', ''], 'future positions are empty, not -Infinity');
  const wide = matrixToCsv(trace.embeddings.input, trace).split('\n')[0];
  assert.equal(wide, 'token,0,1,2,3');
});
