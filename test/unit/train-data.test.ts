// Training data and the Trainer's contract with its caller: the book's 90/10 split by position,
// its stride-C evaluation windows, batches from rows, and evaluation between steps leaving the
// training run unchanged (it draws nothing from the generator).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initGptWeights } from '../../src/engine/gpt/init';
import type { GptConfig } from '../../src/engine/gpt/types';
import { TorchGenerator } from '../../src/engine/rng';
import { BatchSampler, batchFromRows, evaluationStarts, splitTokens } from '../../src/engine/train/data';
import { Trainer } from '../../src/engine/train/trainer';
import { assertClose } from './assertClose';

test('splitTokens keeps the first floor(0.9·n) tokens for training, as the book splits', () => {
  const ids = Int32Array.from({ length: 205 }, (_, i) => i);
  const { train, validation } = splitTokens(ids);
  assert.equal(train.length, 184);
  assert.equal(validation[0], 184);
  assert.equal(splitTokens(ids, 0.25).train.length, 153);
  assert.throws(() => splitTokens(ids, 1), /validation fraction must be in \[0, 1\)/);
});

test('evaluation windows start at 0, C, 2C, … while a whole window and its next token fit', () => {
  assert.deepEqual(evaluationStarts(20, 8), [0, 8]);
  assert.deepEqual(evaluationStarts(17, 8), [0, 8]);
  assert.deepEqual(evaluationStarts(16, 8), [0]);
  assert.deepEqual(evaluationStarts(8, 8), []);
  assert.deepEqual(evaluationStarts(100, 8, 3), [0, 8, 16]);
});

test('batchFromRows: inputs row[:-1], targets row[1:]; ragged rows are refused', () => {
  const batch = batchFromRows([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual([batch.B, batch.T], [2, 2]);
  assert.deepEqual([...batch.inputs], [1, 2, 4, 5]);
  assert.deepEqual([...batch.targets], [2, 3, 5, 6]);
  assert.throws(() => batchFromRows([[1, 2, 3], [4, 5]]), /every row needs the same length/);
});

test('a corpus shorter than a window + 1 says what to change', () => {
  assert.throws(() => new BatchSampler(new Int32Array(8), 8, 2, new TorchGenerator(1)), /need at least that many: use a longer corpus or a shorter context/);
});

test('evaluating between steps does not change the training run', () => {
  const config: GptConfig = { vocabSize: 20, contextLength: 6, dim: 8, heads: 2, layers: 1, qkvBias: false, layerNormEps: 1e-5 };
  const ids = Int32Array.from({ length: 120 }, (_, i) => (i * 7 + (i >> 3)) % 20);
  const run = (evaluate: boolean): number[] => {
    const trainer = new Trainer({ config, weights: initGptWeights(config, 5), ids, batchSize: 3, lr: 1e-2, dropout: 0.1, seed: 9 });
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) {
      losses.push(trainer.step().loss);
      if (evaluate) {
        const { trainLoss, valLoss } = trainer.evaluate();
        assert.ok(Number.isFinite(trainLoss) && Number.isFinite(valLoss));
      }
    }
    return losses;
  };
  const plain = run(false);
  assert.deepEqual(run(true), plain);
  assert.ok(plain[3]! < plain[0]!, `the loss should fall on this easy sequence: ${plain.join(', ')}`);
  assertClose(plain[0]!, Math.log(20), { atol: 0.5, label: 'untrained loss near ln(vocab)' });
});
