// Seeded initial weights against PyTorch: torch.manual_seed(seed), then nn.Embedding ×2,
// nn.Linear ×3 (self_attn), ×3 + out_proj (mha) and the LayerNorm (scripts/gen_fixtures.py).

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { initWeights } from '../../src/engine/init';
import { readWeightsFile } from '../../src/engine/io/weightsFile';
import type { EngineConfig, Linear, Matrix, Weights } from '../../src/engine/types';
import { assertClose } from './assertClose';
import { FIXTURES, readJson } from './engine-fixtures';

const cases = readJson<{ name: string; config: EngineConfig }[]>('init/index.json');

function linears(weights: Weights): [string, Linear][] {
  return [
    ['self_attn.W_query', weights.selfAttn.query],
    ['self_attn.W_key', weights.selfAttn.key],
    ['self_attn.W_value', weights.selfAttn.value],
    ['mha.W_query', weights.mha.query],
    ['mha.W_key', weights.mha.key],
    ['mha.W_value', weights.mha.value],
    ['mha.out_proj', weights.mha.outProj],
  ];
}

/** True when every value is the same float32 (the uniform draws must be bit-identical). */
function bitIdentical(a: Matrix | Float32Array, b: Matrix | Float32Array): boolean {
  const x = 'data' in a ? a.data : a;
  const y = 'data' in b ? b.data : b;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

for (const { name, config } of cases) {
  test(`initWeights equals torch.manual_seed(${config.seed}) + the same modules (${name})`, () => {
    const ours = initWeights(config);
    const torch = readWeightsFile(path.join(FIXTURES, 'init', `${name}.safetensors`)).weights;

    // Embeddings: normal_ runs in float32 vector code in torch, so allow ~1e-6; fewer than 16
    // values use the scalar double path and must be identical.
    for (const [label, a, b] of [
      ['tok_emb.weight', ours.tokEmb, torch.tokEmb],
      ['pos_emb.weight', ours.posEmb, torch.posEmb],
    ] as const) {
      const diff = assertClose(a, b, { atol: 1e-6, label });
      console.log(`init ${name} ${label}: max abs diff = ${diff.toExponential(2)}`);
      if (a.data.length < 16) assert.ok(bitIdentical(a, b), `${label} (scalar path) is bit-identical`);
    }
    // Linear layers: uniform draws, bit-identical.
    const torchLinears = new Map(linears(torch));
    for (const [label, layer] of linears(ours)) {
      const expected = torchLinears.get(label)!;
      assert.ok(bitIdentical(layer.weight, expected.weight), `${label}.weight is bit-identical`);
      assert.equal(layer.bias === undefined, expected.bias === undefined, `${label}.bias presence`);
      if (layer.bias && expected.bias) assert.ok(bitIdentical(layer.bias, expected.bias), `${label}.bias`);
    }
    assert.deepEqual(Array.from(ours.norm.scale), Array.from(torch.norm.scale));
    assert.deepEqual(Array.from(ours.norm.shift), Array.from(torch.norm.shift));
  });
}

test('the init fixtures cover the scalar normal path, qkvBias and a seed above 2^32', () => {
  assert.ok(cases.some((c) => c.config.vocabSize * c.config.dim < 16));
  assert.ok(cases.some((c) => c.config.qkvBias));
  assert.ok(cases.some((c) => c.config.seed >= 2 ** 32));
  assert.ok(cases.some((c) => c.config.dim === 28 && c.config.contextLength === 2048));
});

test('another seed gives other weights', () => {
  const config = cases[0]!.config;
  const a = initWeights(config);
  const b = initWeights({ ...config, seed: config.seed + 1 });
  assert.ok(!bitIdentical(a.selfAttn.query.weight, b.selfAttn.query.weight));
  assert.ok(!bitIdentical(a.tokEmb, b.tokEmb));
});
