// The PyTorch-compatible generator against streams written by Debian's torch
// (test/fixtures/engine/rng.json, from scripts/gen_fixtures.py).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TorchGenerator } from '../../src/engine/rng';
import { applyDropout, dropoutScale, matrixFrom } from '../../src/engine/tensor';
import { assertClose, maxAbsDiff } from './assertClose';
import { readJson } from './engine-fixtures';

interface Streams {
  rand: { seed: number; values: number[] }[];
  uniformRange: { seed: number; from: number; to: number; values: number[] }[];
  uniform64: { seed: number; values: number[] }[];
  normal: { seed: number; count: number; values: number[] }[];
  normalSequence: { seed: number; counts: number[]; values: number[][] };
  normalMeanStd: { seed: number; mean: number; std: number; values: number[] };
  dropout: { seed: number; p: number; rows: number; cols: number; input: number[]; output: number[] }[];
  bookDropoutOnes: { seed: number; p: number; output: number[] };
}

const streams = readJson<Streams>('rng.json');

test('MT19937 matches the reference implementation (seed 5489: first output 3499211612)', () => {
  // Known answer of Matsumoto & Nishimura's mt19937ar.c init_genrand(5489), the C++ std::mt19937 default.
  const generator = new TorchGenerator(5489);
  assert.equal(generator.nextUint32(), 3499211612);
  const fresh = new TorchGenerator(5489);
  for (let i = 0; i < 9999; i++) fresh.nextUint32();
  assert.equal(fresh.nextUint32(), 4123659995); // the 10000th output, as the C++ standard requires
});

test('torch.rand: one 24-bit draw per float32, exactly', () => {
  for (const { seed, values } of streams.rand) {
    const ours = new TorchGenerator(seed).uniform_(new Float32Array(values.length));
    assert.deepEqual(Array.from(ours), values, `seed ${seed}`);
  }
});

test('manual_seed takes the seed modulo 2^32', () => {
  const big = streams.rand.find((s) => s.seed > 2 ** 32)!;
  const small = streams.rand.find((s) => s.seed === big.seed % 2 ** 32)!;
  assert.deepEqual(big.values, small.values);
  assert.deepEqual(Array.from(new TorchGenerator(big.seed).uniform_(new Float32Array(10))), big.values);
});

test('uniform_(a, b) rounds once, like torch, exactly', () => {
  for (const { seed, from, to, values } of streams.uniformRange) {
    const ours = new TorchGenerator(seed).uniform_(new Float32Array(values.length), from, to);
    assert.deepEqual(Array.from(ours), values, `seed ${seed} uniform_(${from}, ${to})`);
  }
});

test('uniform64 (torch.rand float64): two draws, 53 bits, exactly', () => {
  for (const { seed, values } of streams.uniform64) {
    const generator = new TorchGenerator(seed);
    assert.deepEqual(values.map(() => generator.uniform64()), values, `seed ${seed}`);
  }
});

test('normal_ with fewer than 16 values (scalar double path) is exact', () => {
  for (const { seed, count, values } of streams.normal.filter((s) => s.count < 16)) {
    const ours = new TorchGenerator(seed).normal_(new Float32Array(count));
    assert.deepEqual(Array.from(ours), values, `seed ${seed}, ${count} values`);
  }
});

test('normal_ with 16 or more values (vectorised float32 Box-Muller) is within 1e-6', () => {
  for (const { seed, count, values } of streams.normal.filter((s) => s.count >= 16)) {
    const ours = new TorchGenerator(seed).normal_(new Float32Array(count));
    const diff = assertClose(ours, values, { atol: 1e-6, label: `normal_ seed ${seed} count ${count}` });
    const exact = values.filter((v, i) => v === ours[i]).length;
    console.log(`normal_(${count}) seed ${seed}: max abs diff = ${diff.toExponential(2)}, ${exact}/${count} bit-identical`);
  }
});

test('normal_ counts 7, 16, 17 and 100 are all in the fixtures', () => {
  const counts = streams.normal.filter((s) => s.seed === 123).map((s) => s.count);
  assert.deepEqual(counts, [7, 16, 17, 100]);
});

test('scalar normals carry their cached sine value across calls; the vector path leaves it alone', () => {
  const { seed, counts, values } = streams.normalSequence;
  const generator = new TorchGenerator(seed);
  counts.forEach((count, call) => {
    const ours = generator.normal_(new Float32Array(count));
    assertClose(ours, values[call]!, { atol: count >= 16 ? 1e-6 : 0, label: `call ${call} (${count} values)` });
  });
});

test('manualSeed forgets the cached normal', () => {
  const generator = new TorchGenerator(3);
  const first = generator.normal_(new Float32Array(1))[0];
  generator.manualSeed(3);
  assert.equal(generator.normal_(new Float32Array(1))[0], first);
});

test('normal_(mean, std) is within 1e-5', () => {
  const { seed, mean, std, values } = streams.normalMeanStd;
  const ours = new TorchGenerator(seed).normal_(new Float32Array(values.length), mean, std);
  assertClose(ours, values, { atol: 1e-5, label: 'normal_(2, 3)' });
});

test('nn.Dropout: same mask and same kept values as torch, exactly', () => {
  for (const { seed, p, rows, cols, input, output } of streams.dropout) {
    const keep = new TorchGenerator(seed).dropoutMask(new Uint8Array(rows * cols), p);
    const ours = applyDropout(matrixFrom(rows, cols, input), keep, p);
    assert.deepEqual(Array.from(ours.data), output, `seed ${seed}, p ${p}`);
  }
});

test('dropout scale is fround(1 / fround(1 − p)): p = 0.15 tells it from fround(1 / (1 − p))', () => {
  assert.notEqual(dropoutScale(0.15), Math.fround(1 / (1 - 0.15)));
  const case15 = streams.dropout.find((s) => s.p === 0.15)!;
  const kept = case15.output.findIndex((v) => v !== 0);
  assert.equal(case15.output[kept], Math.fround(case15.input[kept]! * dropoutScale(0.15)));
});

test("the book's dropout example: manual_seed(123); nn.Dropout(0.5)(torch.ones(6, 6))", () => {
  // First two rows as printed in ch03.ipynb (rasbt/LLMs-from-scratch, section 3.5.2).
  const keep = new TorchGenerator(123).dropoutMask(new Uint8Array(36), 0.5);
  const dropped = applyDropout(matrixFrom(6, 6, new Array<number>(36).fill(1)), keep, 0.5);
  assert.deepEqual(Array.from(dropped.data.subarray(0, 6)), [2, 2, 0, 2, 2, 0]);
  assert.deepEqual(Array.from(dropped.data.subarray(6, 12)), [0, 0, 0, 2, 0, 2]);
  assert.deepEqual(Array.from(dropped.data), streams.bookDropoutOnes.output);
});

test('dropout with p = 0 draws nothing (as in torch) and keeps everything', () => {
  const generator = new TorchGenerator(8);
  const keep = generator.dropoutMask(new Uint8Array(10), 0);
  assert.ok(keep.every((k) => k === 1));
  assert.equal(generator.nextUint32(), new TorchGenerator(8).nextUint32());
});

test('different seeds give different streams', () => {
  const a = new TorchGenerator(1).uniform_(new Float32Array(20));
  const b = new TorchGenerator(2).uniform_(new Float32Array(20));
  assert.ok(maxAbsDiff(a, b).diff > 0.1);
});

test('seeds must be whole numbers >= 0', () => {
  assert.throws(() => new TorchGenerator(-1), /seed must be a whole number/);
  assert.throws(() => new TorchGenerator(1.5), /seed must be a whole number/);
});

test('dropoutMask draws exactly what uniform64() < 1 − p would decide, across twists', () => {
  for (const p of [0.1, 0.25, 1 / 3, 0.5, 0.9, 0.999, 1e-9]) {
    for (const offset of [0, 1, 623]) {
      // an odd number of earlier draws puts the pairs across the 624-word blocks
      const fast = new TorchGenerator(99);
      const plain = new TorchGenerator(99);
      for (let i = 0; i < offset; i++) {
        fast.nextUint32();
        plain.nextUint32();
      }
      const keep = fast.dropoutMask(new Uint8Array(5000), p);
      const expected = Array.from({ length: 5000 }, () => (plain.uniform64() < 1 - p ? 1 : 0));
      assert.deepEqual(Array.from(keep), expected, `p ${p}, offset ${offset}`);
      assert.equal(fast.nextUint32(), plain.nextUint32(), 'both consumed the same number of draws');
    }
  }
});
