// One training step of the book's GPTModel against PyTorch (scripts/gen_train_fixtures.py): the
// loss and every parameter's gradient, printing the largest difference per tensor.

import { test } from 'node:test';
import { initGptWeights } from '../../src/engine/gpt/init';
import { gptForward as inferenceForward } from '../../src/engine/layers/gptModel';
import { batchFromRows } from '../../src/engine/train/data';
import { createGptActivations, gptBackward, gptTrainingForward, gptParameters, zeroGptWeights } from '../../src/engine/train/model';
import { assertClose } from './assertClose';
import { loadTrainCase } from './train-fixtures';

for (const name of ['nobias', 'qkvbias', 'clip', 'long'] as const) {
  test(`one step's loss and every gradient match PyTorch (${name})`, () => {
    const fixture = loadTrainCase(name);
    const { config } = fixture;
    const batch = batchFromRows(fixture.batches[0]!);
    const acts = createGptActivations(config, batch.B, batch.T, false);
    const loss = gptTrainingForward(fixture.init, config, acts, batch);
    assertClose(loss, fixture.losses[0]!, { atol: 1e-5, label: `${name} loss` });
    const grads = zeroGptWeights(config);
    gptBackward(fixture.init, config, acts, grads);
    const lines: string[] = [];
    for (const p of gptParameters(grads)) {
      const expected = fixture.grads.get(p.name);
      if (!expected) throw new Error(`no torch gradient for ${p.name}`);
      const worst = assertClose(p.data, expected, { atol: 1e-5, rtol: 1e-4, label: `${name} d ${p.name}` });
      lines.push(`${p.name} ${worst.toExponential(2)}`);
    }
    console.log(`${name}: loss ${loss} (torch ${fixture.losses[0]}); largest gradient difference per tensor:\n  ${lines.join('\n  ')}`);
  });
}

test("the fixtures' initial weights are initGptWeights(config, 123): torch.manual_seed(123); GPTModel(cfg)", () => {
  for (const name of ['nobias', 'qkvbias'] as const) {
    const fixture = loadTrainCase(name);
    const ours = gptParameters(initGptWeights(fixture.config, 123));
    const torch = gptParameters(fixture.init);
    ours.forEach((p, i) => assertClose(p.data, torch[i]!.data, { atol: 1e-6, label: `${name} init ${p.name}` }));
  }
});

test('with dropout 0 the training forward gives the inference forward’s logits for every window', () => {
  for (const name of ['nobias', 'qkvbias'] as const) {
    const fixture = loadTrainCase(name);
    const { config } = fixture;
    const batch = batchFromRows(fixture.batches[1]!);
    const acts = createGptActivations(config, batch.B, batch.T, false);
    gptTrainingForward(fixture.init, config, acts, batch);
    const model = { config, weights: fixture.init, source: 'fixture' };
    const V = config.vocabSize;
    let worst = 0;
    for (let b = 0; b < batch.B; b++) {
      const ids = Array.from(batch.inputs.subarray(b * batch.T, (b + 1) * batch.T));
      const inference = inferenceForward(model, ids).logits!;
      const ours = acts.logits.subarray(b * batch.T * V, (b + 1) * batch.T * V);
      worst = Math.max(worst, assertClose(ours, inference.data, { atol: 1e-5, label: `${name} window ${b} logits` }));
    }
    console.log(`${name}: training forward (p = 0) vs inference forward, largest logit difference ${worst}`);
  }
});
