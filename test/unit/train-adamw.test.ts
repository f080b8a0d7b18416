// Three training steps against PyTorch (scripts/gen_train_fixtures.py): the loss of every step,
// the weights after three torch.optim.AdamW updates (weight_decay 0.1), gradient clipping, and a
// run whose batches and dropout masks are drawn from the seeded generator as torch draws them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clipGradNorm, scheduledLr } from '../../src/engine/train/adamw';
import { gptParameters } from '../../src/engine/train/model';
import { Trainer } from '../../src/engine/train/trainer';
import { assertClose } from './assertClose';
import { loadTrainCase, type TrainCase } from './train-fixtures';

/**
 * The key bias's true gradient is 0 (it adds q·b_k to every score of a row, which softmax
 * ignores), so both gradients are float32 noise of about 1e-9 and AdamW, which divides m by √v,
 * turns noise into steps of up to about lr each way: ours and torch's may differ by 2·lr a step.
 * Every other tensor is held to 1e-5 / 1e-4.
 */
function checkFinal(fixture: TrainCase, trainer: Trainer): string[] {
  const lines: string[] = [];
  const { lr, steps } = fixture.training;
  for (const p of trainer.namedParameters()) {
    const expected = fixture.final.get(p.name);
    if (!expected) throw new Error(`no torch weights for ${p.name}`);
    const noiseOnly = p.name.endsWith('att.W_key.bias');
    const tolerance = noiseOnly ? { atol: 2 * lr * steps } : { atol: 1e-5, rtol: 1e-4 };
    const worst = assertClose(p.data, expected, { ...tolerance, label: `${fixture.name} ${p.name} after ${steps} steps` });
    if (!noiseOnly) lines.push(`${p.name} ${worst.toExponential(2)}`);
  }
  return lines;
}

function checkGradients(fixture: TrainCase, trainer: Trainer): void {
  for (const g of gptParameters(trainer.grads)) {
    assertClose(g.data, fixture.grads.get(g.name)!, { atol: 1e-5, rtol: 1e-4, label: `${fixture.name} d ${g.name}` });
  }
}

for (const name of ['nobias', 'qkvbias', 'clip', 'long'] as const) {
  test(`losses per step and the weights after 3 AdamW steps match PyTorch (${name})`, () => {
    const fixture = loadTrainCase(name);
    const { training } = fixture;
    const trainer = new Trainer({
      config: fixture.config,
      weights: fixture.init,
      batches: fixture.batches,
      batchSize: training.batch,
      lr: training.lr,
      weightDecay: training.weightDecay,
      clipGradNorm: training.clipGradNorm,
    });
    const losses: number[] = [];
    const norms: number[] = [];
    for (let i = 0; i < training.steps; i++) {
      const result = trainer.step();
      assert.equal(result.step, i + 1);
      losses.push(result.loss);
      norms.push(result.gradNorm);
    }
    const lossDiff = assertClose(losses, fixture.losses, { atol: 1e-5, label: `${name} losses` });
    if (fixture.gradNorms) assertClose(norms, fixture.gradNorms, { atol: 1e-5, rtol: 1e-5, label: `${name} clipped norms` });
    const lines = checkFinal(fixture, trainer);
    const worst = Math.max(...lines.map((line) => Number(line.split(' ')[1])));
    console.log(`${name}: losses within ${lossDiff.toExponential(2)}; weights after ${training.steps} steps within ${worst.toExponential(2)} (worst tensor)`);
  });
}

for (const name of ['sampled-dropout', 'long-sampled-dropout'] as const) test(`sampled batches and dropout masks from the seeded generator match torch's (randint windows; ${name})`, () => {
  const fixture = loadTrainCase(name);
  const { training } = fixture;
  const trainer = new Trainer({
    config: fixture.config,
    weights: fixture.init,
    ids: fixture.ids!,
    batchSize: training.batch,
    lr: training.lr,
    weightDecay: training.weightDecay,
    dropout: fixture.dropout,
    seed: training.sampleSeed!,
  });
  assert.equal(trainer.train.length, fixture.split);
  const losses: number[] = [];
  for (let i = 0; i < training.steps; i++) {
    losses.push(trainer.step().loss);
    if (i === 0) checkGradients(fixture, trainer);
  }
  const lossDiff = assertClose(losses, fixture.losses, { atol: 1e-5, label: `${name} losses` });
  checkFinal(fixture, trainer);
  const evaluation = trainer.evaluate();
  assertClose(evaluation.valLoss!, fixture.valLoss!, { atol: 1e-5, label: `${name} validation loss` });
  console.log(`${name} (p = ${fixture.dropout}): losses within ${lossDiff.toExponential(2)}, validation loss ${evaluation.valLoss} (torch ${fixture.valLoss})`);
});

test('clipGradNorm scales every gradient by maxNorm / (norm + 1e-6) only above maxNorm', () => {
  const grads = [Float32Array.of(3, 0), Float32Array.of(0, 4)];
  assert.equal(clipGradNorm(grads, 10), 5);
  assert.deepEqual([...grads[0]!, ...grads[1]!], [3, 0, 0, 4]);
  assert.equal(clipGradNorm(grads, 1), 5);
  assertClose([...grads[0]!, ...grads[1]!], [0.6, 0, 0, 0.8], { atol: 1e-6 });
});

test('scheduledLr warms up linearly, then follows the cosine down to minLr (book appendix D)', () => {
  const schedule = { peakLr: 0.01, warmupSteps: 10, totalSteps: 110, initialLr: 0.001, minLr: 0.0001 };
  assertClose(scheduledLr(0, schedule), 0.001, { atol: 1e-12 });
  assertClose(scheduledLr(5, schedule), 0.0055, { atol: 1e-12 });
  assertClose(scheduledLr(10, schedule), 0.01, { atol: 1e-12 });
  assertClose(scheduledLr(60, schedule), 0.0001 + 0.0099 * 0.5, { atol: 1e-12 });
  assertClose(scheduledLr(110, schedule), 0.0001, { atol: 1e-12 });
});
