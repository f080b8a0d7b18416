// One training step of the book's GPTModel against PyTorch (scripts/gen_train_fixtures.py): the
// loss and every parameter's gradient, printing the largest difference per tensor.

import { test } from 'node:test';
import { batchFromRows } from '../../src/engine/train/data';
import { createGptActivations, gptBackward, gptForward, gptParameters, zeroGptWeights } from '../../src/engine/train/model';
import { assertClose } from './assertClose';
import { loadTrainCase } from './train-fixtures';

for (const name of ['nobias', 'qkvbias', 'clip'] as const) {
  test(`one step's loss and every gradient match PyTorch (${name})`, () => {
    const fixture = loadTrainCase(name);
    const { config } = fixture;
    const batch = batchFromRows(fixture.batches[0]!);
    const acts = createGptActivations(config, batch.B, batch.T, false);
    const loss = gptForward(fixture.init, config, acts, batch);
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
