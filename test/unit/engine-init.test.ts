// The seeded model against PyTorch: torch.manual_seed(seed); GPTModel(cfg) with the reference model
// (src/export/python/model.py, written by scripts/gen_fixtures.py), tensor by tensor: the scalar
// normal path, qkv bias, a seed above 2^32 and the playground's default sizes.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { createSeededGpt } from '../../src/engine/gpt/init';
import type { GptConfig } from '../../src/engine/gpt/types';
import { gptToTensors } from '../../src/engine/io/gptCheckpoint';
import { assertClose } from './assertClose';
import { FIXTURES, readJson, readTensors } from './engine-fixtures';

const cases = readJson<{ name: string; seed: number; config: GptConfig }[]>('init/index.json');

/** True when every value is the same float32 (the uniform draws must be bit-identical). */
function bitIdentical(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

for (const { name, seed, config } of cases) {
  test(`the seeded model equals torch.manual_seed(${seed}); GPTModel(cfg) (${name})`, () => {
    const ours = gptToTensors(createSeededGpt(config, seed).weights);
    const torch = readTensors(path.join(FIXTURES, 'init', `${name}.safetensors`));
    assert.deepEqual([...ours.keys()].sort(), [...torch.keys()].sort(), 'the same tensors under the same names');
    for (const [label, tensor] of ours) {
      const expected = torch.get(label)!.data;
      if (label.endsWith('emb.weight')) {
        // normal_ runs in float32 vector code in torch, so allow ~1e-6; fewer than 16 values use
        // the scalar double path and must be identical
        const diff = assertClose(tensor.data, expected, { atol: 1e-6, label });
        console.log(`init ${name} ${label}: max abs diff = ${diff.toExponential(2)}`);
        if (tensor.data.length < 16) assert.ok(bitIdentical(tensor.data, expected), `${label} (scalar path) is bit-identical`);
      } else {
        // uniform draws (nn.Linear) and the norms' ones and zeros: bit-identical
        assert.ok(bitIdentical(tensor.data, expected), `${label} is bit-identical`);
      }
    }
  });
}

test('the init fixtures cover the scalar normal path, qkvBias, a seed above 2^32 and the defaults', () => {
  assert.ok(cases.some((c) => c.config.vocabSize * c.config.dim < 16));
  assert.ok(cases.some((c) => c.config.qkvBias));
  assert.ok(cases.some((c) => c.seed >= 2 ** 32));
  assert.ok(cases.some((c) => c.config.dim === 28 && c.config.heads === 7 && c.config.contextLength === 2048));
});

test('another seed gives other weights', () => {
  const { config, seed } = cases[0]!;
  const a = createSeededGpt(config, seed).weights;
  const b = createSeededGpt(config, seed + 1).weights;
  assert.ok(!bitIdentical(a.blocks[0]!.att.query.weight.data, b.blocks[0]!.att.query.weight.data));
  assert.ok(!bitIdentical(a.tokEmb.data, b.tokEmb.data));
});
