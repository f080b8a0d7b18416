// GPT checkpoints: Hugging Face GPT-2 folders and the book's layout give torch's logits; our
// writer round-trips with its metadata; the layout of any weights file is told from its header;
// every bad checkpoint gets a one-line message naming the tensor or the setting to fix.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { EngineError } from '../../src/engine/config';
import { createSeededGpt } from '../../src/engine/gpt/init';
import {
  GptCheckpointError,
  gptToTensors,
  readGptCheckpoint,
  tensorsToGpt,
  weightsLayoutOf,
  writeGptCheckpoint,
} from '../../src/engine/io/gptCheckpoint';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../../src/engine/io/safetensors';
import { gptForward } from '../../src/engine/layers/gptModel';
import { assertClose } from './assertClose';
import { GPT_FIXTURES, loadBookCase, readJson, readTensors, ref } from './gpt-fixtures';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-gpt-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

for (const [folder, expected] of [
  ['gpt2-tiny', { heads: 4, layerNormEps: 1e-5, tied: true }],
  ['gpt2-prefixed-f16', { heads: 2, layerNormEps: 1e-3, tied: false }],
] as const) {
  test(`${folder}: the Hugging Face layout (folder or file) gives torch's logits`, () => {
    const dir = path.join(GPT_FIXTURES, folder);
    const { ids } = readJson<{ ids: number[] }>(path.join(dir, 'case.json'));
    const torchLogits = ref(readTensors(path.join(dir, 'reference.safetensors')), 'logits');
    for (const given of [dir, path.join(dir, 'model.safetensors')]) {
      const loaded = readGptCheckpoint(given, { heads: 7 }); // config.json's n_head wins over the setting
      assert.equal(loaded.layout, 'gpt2');
      assert.equal(loaded.file, path.join(dir, 'model.safetensors'));
      assert.equal(loaded.model.config.heads, expected.heads);
      assert.equal(loaded.model.config.layerNormEps, expected.layerNormEps);
      assert.equal(loaded.model.config.qkvBias, true);
      assert.equal(loaded.model.weights.outHead === loaded.model.weights.tokEmb, expected.tied);
      const diff = assertClose(gptForward(loaded.model, ids).logits!, torchLogits, { atol: 1e-4, label: `${folder} logits` });
      console.log(`${folder} logits max abs diff ${diff.toExponential(2)}`);
      assert.equal(weightsLayoutOf(given).layout, 'gpt2');
    }
  });
}

test("the book's layout (a torch state_dict with att.mask buffers, no metadata) gives torch's logits with the heads given", () => {
  const c = loadBookCase('book-small');
  const file = path.join(c.folder, 'weights.safetensors');
  const loaded = readGptCheckpoint(file, { heads: 4 });
  assert.equal(loaded.layout, 'book');
  assert.deepEqual(loaded.model.config, c.config);
  assertClose(gptForward(loaded.model, c.ids).logits!, ref(c.reference, 'logits'), { atol: 1e-4, label: 'book-small logits' });
  assert.equal(weightsLayoutOf(file).layout, 'book');
});

test('writeGptCheckpoint round-trips the model bit for bit, with the config and extra strings in __metadata__', () => {
  const c = loadBookCase('book-qkv-bias');
  const model = readGptCheckpoint(path.join(c.folder, 'weights.safetensors'), { heads: 3 }).model;
  const file = path.join(tmp, 'roundtrip.safetensors');
  writeGptCheckpoint(file, { ...model, config: { ...model.config, layerNormEps: 1e-6 } }, { tokenizer: 'gpt2', step: '120' });
  const loaded = readGptCheckpoint(file, { heads: 1 }); // the file's heads win over the setting
  assert.equal(loaded.model.config.heads, 3);
  assert.equal(loaded.model.config.layerNormEps, 1e-6);
  assert.equal(loaded.metadata.tokenizer, 'gpt2');
  assert.equal(loaded.metadata.step, '120');
  assert.equal(loaded.metadata.format, 'llm101-gpt');
  for (const [name, tensor] of gptToTensors(model.weights)) assert.deepEqual(gptToTensors(loaded.model.weights).get(name)!.data, tensor.data, name);
  const { tensors, metadata } = readSafetensors(fs.readFileSync(file));
  assert.equal(tensorsToGpt(tensors, metadata).config.heads, 3);
  assert.throws(() => writeGptCheckpoint(file, model, { heads: '2' }), /metadata key heads is the checkpoint's own/);
});

test('weightsLayoutOf tells the book and GPT-2 apart, and says what to use for an old stages file', () => {
  assert.equal(weightsLayoutOf(path.join(GPT_FIXTURES, 'book-small', 'weights.safetensors')).layout, 'book');
  assert.equal(weightsLayoutOf(path.join(GPT_FIXTURES, 'gpt2-tiny')).layout, 'gpt2');
  const stages = path.join(__dirname, '..', 'fixtures', 'engine', 'default', 'weights.safetensors');
  for (const read of [() => weightsLayoutOf(stages), () => readGptCheckpoint(stages)]) {
    assertOneLineError(read, /holds the seven stages' own weights \(self_attn\.\*, mha\.\*, norm\.\*\), a format the playground no longer reads.*Use a GPT checkpoint instead/);
  }
  const other = path.join(tmp, 'other.safetensors');
  fs.writeFileSync(other, writeSafetensors([['x', { shape: [1], data: new Float32Array(1) }]]));
  assert.throws(() => weightsLayoutOf(other), /holds neither the book's GPT/);
});

test('a tensor above the 16 MB slice is read in slices of rows and comes out whole', () => {
  const config = { vocabSize: 66_000, contextLength: 4, dim: 64, heads: 2, layers: 1, qkvBias: false, layerNormEps: 1e-5 };
  const model = createSeededGpt(config, 3); // tok_emb and out_head 16.9 MB each
  const file = path.join(tmp, 'wide.safetensors');
  writeGptCheckpoint(file, model);
  const loaded = readGptCheckpoint(file).model;
  assert.deepEqual(loaded.weights.tokEmb.data, model.weights.tokEmb.data);
  assert.deepEqual(loaded.weights.outHead.data, model.weights.outHead.data);
});

// ---------------------------------------------------------------------------------------------
// bad checkpoints

/** The book-small tensors, changed by `edit`, written to a temporary file. */
function editedBook(name: string, edit: (tensors: Map<string, SafeTensor>) => void, metadata?: Record<string, string>): string {
  const c = loadBookCase('book-small');
  const { tensors } = readSafetensors(fs.readFileSync(path.join(c.folder, 'weights.safetensors')));
  const copy = new Map(tensors);
  edit(copy);
  const file = path.join(tmp, `${name}.safetensors`);
  fs.writeFileSync(file, writeSafetensors(copy, metadata));
  return file;
}

function assertOneLineError(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof GptCheckpointError && err instanceof EngineError, String(err));
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return true;
  });
}

test('bad checkpoints: a missing or misshapen tensor is named with its expected shape', () => {
  const missing = editedBook('missing', (t) => t.delete('trf_blocks.1.ff.layers.2.weight'));
  assertOneLineError(() => readGptCheckpoint(missing, { heads: 4 }), /missing tensor trf_blocks\.1\.ff\.layers\.2\.weight \(expected shape \[dim=32, 4·dim=128\]\)/);
  const misshapen = editedBook('misshapen', (t) => t.set('trf_blocks.0.att.W_key.weight', { shape: [32, 16], data: new Float32Array(512) }));
  assertOneLineError(() => readGptCheckpoint(misshapen, { heads: 4 }), /tensor trf_blocks\.0\.att\.W_key\.weight has shape \[32, 16\], expected \[dim=32, dim=32\]/);
  const nan = editedBook('nan', (t) => t.set('final_norm.shift', { shape: [32], data: new Float32Array(32).fill(NaN) }));
  assertOneLineError(() => readGptCheckpoint(nan, { heads: 4 }), /final_norm\.shift holds NaN at flat index 0/);
  const hf = path.join(tmp, 'hf-missing');
  fs.mkdirSync(hf);
  const { tensors } = readSafetensors(fs.readFileSync(path.join(GPT_FIXTURES, 'gpt2-tiny', 'model.safetensors')));
  tensors.delete('h.1.attn.c_attn.bias');
  fs.writeFileSync(path.join(hf, 'model.safetensors'), writeSafetensors(tensors));
  fs.copyFileSync(path.join(GPT_FIXTURES, 'gpt2-tiny', 'config.json'), path.join(hf, 'config.json'));
  assertOneLineError(() => readGptCheckpoint(hf), /missing tensor h\.1\.attn\.c_attn\.bias \(expected shape \[3·n_embd=96\]\)/);
});

test('bad checkpoints: heads that do not divide dim, or no heads at all, say what to set', () => {
  const file = path.join(GPT_FIXTURES, 'book-small', 'weights.safetensors');
  assertOneLineError(() => readGptCheckpoint(file), /does not say how many attention heads .*; set heads$/);
  assert.throws(() => readGptCheckpoint(file), { setting: 'heads' });
  assertOneLineError(() => readGptCheckpoint(file, { heads: 5 }), /heads \(5\) must divide dim \(32\); valid head counts: 1, 2, 4, 8, 16, 32$/);
  assert.throws(() => readGptCheckpoint(file, { heads: 5 }), { setting: 'heads' });
  const noConfig = path.join(tmp, 'gpt2-no-config');
  fs.mkdirSync(noConfig);
  fs.copyFileSync(path.join(GPT_FIXTURES, 'gpt2-tiny', 'model.safetensors'), path.join(noConfig, 'model.safetensors'));
  assertOneLineError(() => readGptCheckpoint(noConfig), /needs its config\.json \(n_head\) beside it, or set heads \(12 for GPT-2 small/);
  assert.equal(readGptCheckpoint(noConfig, { heads: 4 }).model.config.heads, 4);
  const badHeads = path.join(tmp, 'gpt2-bad-heads');
  fs.mkdirSync(badHeads);
  fs.copyFileSync(path.join(GPT_FIXTURES, 'gpt2-tiny', 'model.safetensors'), path.join(badHeads, 'model.safetensors'));
  fs.writeFileSync(path.join(badHeads, 'config.json'), JSON.stringify({ n_head: 3 }));
  assertOneLineError(() => readGptCheckpoint(badHeads), /heads \(3\) must divide dim \(32\); valid head counts: 1, 2, 4, 8, 16, 32 \(heads from n_head in config\.json\)$/);
  assert.throws(() => readGptCheckpoint(badHeads), (err: Error & { setting?: string }) => err.setting === undefined, 'the setting is not the fix');
});

test('bad checkpoints: unreadable paths, folders without model.safetensors, truncated files', () => {
  assertOneLineError(() => readGptCheckpoint(path.join(tmp, 'absent.safetensors')), /cannot read checkpoint .*absent\.safetensors: no such file/);
  const empty = path.join(tmp, 'empty-folder');
  fs.mkdirSync(empty);
  assertOneLineError(() => readGptCheckpoint(empty), /has no model\.safetensors; point the weights at a \.safetensors file/);
  assert.throws(() => readGptCheckpoint(empty), { setting: 'weightsPath' });
  const bytes = fs.readFileSync(path.join(GPT_FIXTURES, 'book-small', 'weights.safetensors'));
  const truncated = path.join(tmp, 'truncated.safetensors');
  fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
  assertOneLineError(() => readGptCheckpoint(truncated, { heads: 4 }), /checkpoint .*truncated\.safetensors: the file is shorter than its header promises: \d+ bytes expected, \d+ found \(100 missing, from tensor "[^"]+" on\)/);
  // the same file with pos_emb.weight's dtype changed to F64 in the header (same length, so offsets hold)
  const f64 = path.join(tmp, 'f64.safetensors');
  const header = bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8');
  const patched = Buffer.from(bytes);
  patched.write(header.replace('"pos_emb.weight":{"dtype":"F32"', '"pos_emb.weight":{"dtype":"F64"'), 8, 'utf8');
  fs.writeFileSync(f64, patched);
  assertOneLineError(() => readGptCheckpoint(f64, { heads: 4 }), /tensor "pos_emb\.weight" has dtype F64, expected F32, F16 or BF16/);
});
