// Weights <-> named tensors <-> .safetensors files: names, shapes, sizes read from shapes, and
// the errors for a missing tensor, a wrong shape and a disagreement with the settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Linear, Matrix, Weights } from '../../src/engine/types';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../../src/engine/io/safetensors';
import {
  readWeightsFile,
  tensorsToWeights,
  weightsToTensors,
  WeightsFileError,
  writeWeightsFile,
  type ExpectationSources,
  type ExpectedSizes,
} from '../../src/engine/io/weightsFile';

/** Deterministic, distinct values so a swapped tensor would show. */
function filled(length: number, salt: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => Math.fround(Math.sin(salt * 1000 + i)));
}
const matrix = (rows: number, cols: number, salt: number): Matrix => ({ rows, cols, data: filled(rows * cols, salt) });
const linear = (out: number, inputs: number, bias: boolean, salt: number): Linear =>
  bias ? { weight: matrix(out, inputs, salt), bias: filled(out, salt + 0.5) } : { weight: matrix(out, inputs, salt) };

function makeWeights(s: { vocabSize: number; dim: number; attnDim: number; contextLength: number; qkvBias: boolean }): Weights {
  const { vocabSize: V, dim: D, attnDim: A, contextLength: C, qkvBias: b } = s;
  return {
    tokEmb: matrix(V, D, 1),
    posEmb: matrix(C, D, 2),
    selfAttn: { query: linear(A, D, b, 3), key: linear(A, D, b, 4), value: linear(A, D, b, 5) },
    mha: { query: linear(A, D, b, 6), key: linear(A, D, b, 7), value: linear(A, D, b, 8), outProj: linear(A, A, true, 9) },
    norm: { scale: filled(A, 10), shift: filled(A, 11) },
  };
}

const SIZES = { vocabSize: 12, dim: 6, attnDim: 4, contextLength: 5, qkvBias: false };

function throwsWeights(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WeightsFileError, `expected WeightsFileError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

/** The tensors of SIZES with one entry replaced (undefined deletes it). */
function withTensor(name: string, tensor: SafeTensor | undefined, sizes = SIZES): Map<string, SafeTensor> {
  const tensors = weightsToTensors(makeWeights(sizes));
  if (tensor) tensors.set(name, tensor);
  else tensors.delete(name);
  return tensors;
}

const REQUIRED = [
  'tok_emb.weight',
  'pos_emb.weight',
  'self_attn.W_query.weight',
  'self_attn.W_key.weight',
  'self_attn.W_value.weight',
  'mha.W_query.weight',
  'mha.W_key.weight',
  'mha.W_value.weight',
  'mha.out_proj.weight',
  'mha.out_proj.bias',
  'norm.scale',
  'norm.shift',
];

test('weightsToTensors uses the PyTorch names and [out, in] shapes', () => {
  const tensors = weightsToTensors(makeWeights(SIZES));
  assert.deepEqual([...tensors.keys()], REQUIRED);
  assert.deepEqual(tensors.get('tok_emb.weight')?.shape, [12, 6]);
  assert.deepEqual(tensors.get('pos_emb.weight')?.shape, [5, 6]);
  assert.deepEqual(tensors.get('self_attn.W_query.weight')?.shape, [4, 6]);
  assert.deepEqual(tensors.get('mha.out_proj.weight')?.shape, [4, 4]);
  assert.deepEqual(tensors.get('mha.out_proj.bias')?.shape, [4]);
  assert.deepEqual(tensors.get('norm.shift')?.shape, [4]);

  const withBias = weightsToTensors(makeWeights({ ...SIZES, qkvBias: true }));
  for (const p of ['self_attn.W_query', 'self_attn.W_key', 'self_attn.W_value', 'mha.W_query', 'mha.W_key', 'mha.W_value']) {
    assert.deepEqual(withBias.get(`${p}.bias`)?.shape, [4], p);
  }
});

test('round trip through safetensors bytes gives the same weights and reads the sizes from the shapes', () => {
  for (const qkvBias of [false, true]) {
    const weights = makeWeights({ ...SIZES, qkvBias });
    const bytes = writeSafetensors(weightsToTensors(weights));
    const loaded = tensorsToWeights(readSafetensors(bytes).tensors);
    assert.deepEqual(loaded.sizes, { ...SIZES, qkvBias });
    assert.deepEqual(loaded.weights, weights);
  }
});

test('writeWeightsFile / readWeightsFile round trip on disk, with "format": "pt" metadata', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-weights-'));
  try {
    const file = path.join(dir, 'w.safetensors');
    const weights = makeWeights({ ...SIZES, qkvBias: true });
    writeWeightsFile(file, weights);
    assert.deepEqual(readSafetensors(fs.readFileSync(file)).metadata, { format: 'pt' });
    const loaded = readWeightsFile(file, { vocabSize: 12, dim: 6 });
    assert.deepEqual(loaded.weights, weights);
    assert.equal(loaded.sizes.qkvBias, true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('extra tensors (e.g. the book modules\' causal mask buffers) are ignored', () => {
  const tensors = withTensor('mha.mask', { shape: [5, 5], data: new Float32Array(25) });
  assert.deepEqual(tensorsToWeights(tensors).sizes, SIZES);
});

test('a missing tensor is named, for every required name', () => {
  for (const name of REQUIRED) {
    throwsWeights(() => tensorsToWeights(withTensor(name, undefined)), new RegExp(`^missing tensor ${name.replace(/\./g, '\\.')}$`));
  }
  const tensors = withTensor('norm.scale', undefined);
  tensors.delete('norm.shift');
  tensors.delete('tok_emb.weight');
  throwsWeights(() => tensorsToWeights(tensors), /^missing tensor tok_emb\.weight \(and 2 more: norm\.scale, norm\.shift\)$/);
});

test('a wrong shape names the tensor, the actual shape and the expected one', () => {
  const sizes = { vocabSize: 30, dim: 28, attnDim: 28, contextLength: 8, qkvBias: false };
  throwsWeights(
    () => tensorsToWeights(withTensor('mha.W_key.weight', { shape: [28, 30], data: new Float32Array(28 * 30) }, sizes)),
    /^mha\.W_key\.weight has shape \[28, 30\], expected \[attnDim=28, dim=28\]$/,
  );
  throwsWeights(
    () => tensorsToWeights(withTensor('pos_emb.weight', { shape: [5, 7], data: new Float32Array(35) })),
    /^pos_emb\.weight has shape \[5, 7\], expected \[contextLength=5, dim=6\]$/,
  );
  throwsWeights(
    () => tensorsToWeights(withTensor('mha.out_proj.weight', { shape: [4, 6], data: new Float32Array(24) })),
    /^mha\.out_proj\.weight has shape \[4, 6\], expected \[attnDim=4, attnDim=4\]$/,
  );
  throwsWeights(
    () => tensorsToWeights(withTensor('norm.scale', { shape: [4, 1], data: new Float32Array(4) })),
    /^norm\.scale has shape \[4, 1\], expected \[attnDim=4\]$/,
  );
  throwsWeights(
    () => tensorsToWeights(withTensor('mha.out_proj.bias', { shape: [3], data: new Float32Array(3) })),
    /^mha\.out_proj\.bias has shape \[3\], expected \[attnDim=4\]$/,
  );
});

test('the tensors that fix the sizes must be 2-d with sizes of at least 1', () => {
  throwsWeights(
    () => tensorsToWeights(withTensor('tok_emb.weight', { shape: [72], data: new Float32Array(72) })),
    /^tok_emb\.weight has shape \[72\], expected 2 dims \[vocabSize, dim\]$/,
  );
  throwsWeights(
    () => tensorsToWeights(withTensor('self_attn.W_query.weight', { shape: [2, 2, 6], data: new Float32Array(24) })),
    /^self_attn\.W_query\.weight has shape \[2, 2, 6\], expected 2 dims \[attnDim, dim\]$/,
  );
  throwsWeights(
    () => tensorsToWeights(withTensor('pos_emb.weight', { shape: [0, 6], data: new Float32Array(0) })),
    /^pos_emb\.weight has shape \[0, 6\]; contextLength and dim must be at least 1$/,
  );
});

test('query/key/value biases must be on all six projections or none', () => {
  const tensors = weightsToTensors(makeWeights({ ...SIZES, qkvBias: true }));
  tensors.delete('mha.W_value.bias');
  throwsWeights(
    () => tensorsToWeights(tensors),
    /^self_attn\.W_query\.bias is present but mha\.W_value\.bias is missing; the query\/key\/value projections need a bias on all six or on none$/,
  );
});

test('non-finite weights are refused with the tensor and the index', () => {
  const data = filled(4, 3);
  data[2] = NaN;
  throwsWeights(() => tensorsToWeights(withTensor('norm.shift', { shape: [4], data })), /^norm\.shift holds NaN at flat index 2;/);
  const inf = filled(24, 1);
  inf[23] = -Infinity;
  throwsWeights(() => tensorsToWeights(withTensor('mha.W_query.weight', { shape: [4, 6], data: inf })), /^mha\.W_query\.weight holds -Infinity at flat index 23/);
});

test('disagreement with expected sizes names the tensor, both values and where the expectation came from', () => {
  const tensors = weightsToTensors(makeWeights(SIZES));
  const cases: [ExpectedSizes, ExpectationSources, RegExp][] = [
    [
      { vocabSize: 512 },
      { vocabSize: "the bpe tokenizer's vocabulary" },
      /^vocabSize is 12 in the file \(rows of tok_emb\.weight\) but the bpe tokenizer's vocabulary gives 512; use the tokenizer and corpus the weights were made with$/,
    ],
    [{ dim: 28 }, { dim: '--dim' }, /^dim is 6 in the file \(columns of tok_emb\.weight\) but --dim gives 28; drop --dim or make it 6$/],
    [{ attnDim: 8 }, { attnDim: '--attn-dim' }, /^attnDim is 4 in the file \(rows of self_attn\.W_query\.weight\) but --attn-dim gives 8; drop --attn-dim or make it 4$/],
    [{ contextLength: 256 }, {}, /^contextLength is 5 in the file \(rows of pos_emb\.weight\) but 256 was expected; expect 5$/],
    [
      { qkvBias: true },
      { qkvBias: '--qkv-bias' },
      /^the file has no query\/key\/value biases \(.*\) but --qkv-bias asks for them; drop --qkv-bias or use a file with biases$/,
    ],
  ];
  for (const [expect, sources, pattern] of cases) throwsWeights(() => tensorsToWeights(tensors, expect, sources), pattern);
  // Agreeing expectations pass.
  assert.deepEqual(tensorsToWeights(tensors, { vocabSize: 12, dim: 6, attnDim: 4, contextLength: 5, qkvBias: false }).sizes, SIZES);
});

test('readWeightsFile: unreadable, not a file, and malformed files give one line that starts with the path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-weights-'));
  try {
    const missing = path.join(dir, 'nope.safetensors');
    throwsWeights(() => readWeightsFile(missing), new RegExp(`^cannot read weights file ${missing}: no such file$`));
    throwsWeights(() => readWeightsFile(dir), /is not a regular file; give the path of a \.safetensors file$/);

    const garbage = path.join(dir, 'garbage.safetensors');
    fs.writeFileSync(garbage, 'this is not a safetensors file at all');
    throwsWeights(() => readWeightsFile(garbage), new RegExp(`^weights file ${garbage}: not a safetensors file: header length \\d+ is above`));

    const truncated = path.join(dir, 'truncated.safetensors');
    const whole = writeSafetensors(weightsToTensors(makeWeights(SIZES)));
    fs.writeFileSync(truncated, whole.subarray(0, whole.length - 10));
    throwsWeights(() => readWeightsFile(truncated), /^weights file .*truncated\.safetensors: tensor "norm\.shift": data_offsets \[\d+, \d+\] run past the end/);

    const partial = path.join(dir, 'partial.safetensors');
    fs.writeFileSync(partial, writeSafetensors(withTensor('mha.out_proj.bias', undefined)));
    throwsWeights(() => readWeightsFile(partial), /^weights file .*partial\.safetensors: missing tensor mha\.out_proj\.bias$/);

    const mismatch = path.join(dir, 'mismatch.safetensors');
    writeWeightsFile(mismatch, makeWeights(SIZES));
    throwsWeights(() => readWeightsFile(mismatch, { dim: 28 }, { dim: '--dim' }), /^weights file .*mismatch\.safetensors: dim is 6 in the file .* but --dim gives 28/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('writeWeightsFile into a missing directory gives one clear line', () => {
  throwsWeights(
    () => writeWeightsFile(path.join(os.tmpdir(), 'llm101-no-such-dir', 'x', 'w.safetensors'), makeWeights(SIZES)),
    /^cannot write weights file .*w\.safetensors: its folder does not exist; create it first$/,
  );
});

test('fixtures written by PyTorch load', () => {
  const dir = path.join(__dirname, '..', 'fixtures', 'engine');
  const files = listSafetensors(dir);
  assert.ok(files.length > 0, 'test/fixtures/engine holds safetensors files (npm run fixtures)');
  let models = 0;
  for (const file of files) {
    const { tensors } = readSafetensors(fs.readFileSync(file));
    for (const [name, tensor] of tensors) {
      assert.equal(tensor.data.length, tensor.shape.reduce((a, b) => a * b, 1), `${file}: ${name}`);
    }
    if (!tensors.has('tok_emb.weight')) continue;
    const { weights, sizes } = tensorsToWeights(tensors);
    models++;
    assert.equal(weights.tokEmb.rows, sizes.vocabSize, file);
    // Writing and reading back what PyTorch wrote changes nothing.
    assert.deepEqual(tensorsToWeights(readSafetensors(writeSafetensors(weightsToTensors(weights))).tensors).weights, weights, file);
  }
  assert.ok(models > 0, `none of ${files.length} fixture files holds a model (tok_emb.weight)`);
});

function listSafetensors(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listSafetensors(full);
    return entry.name.endsWith('.safetensors') ? [full] : [];
  });
}
