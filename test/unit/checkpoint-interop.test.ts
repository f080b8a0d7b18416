// A checkpoint written here carries what the book's GPTModel state_dict carries, so PyTorch's
// load_state_dict(strict=True) takes it: each block's causal-mask buffer trf_blocks.{i}.att.mask,
// triu(ones(C, C), diagonal=1) in float32. Files with or without the buffers read the same.
// (scripts/check-book-interop.py loads one into the book's own chapter 4 gpt.py on torch 1.13 and 2.x.)
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { gptToTensors, readGptCheckpoint, writeGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { readSafetensors, writeSafetensors } from '../../src/engine/io/safetensors';

test('written checkpoints hold att.mask per block (the book\'s buffer); files without it read the same', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-interop-'));
  try {
    const config = { vocabSize: 50, contextLength: 6, dim: 24, heads: 3, layers: 2, qkvBias: true, layerNormEps: 1e-5 };
    const model = createSeededGpt(config, 7);
    const file = path.join(dir, 'with-mask.safetensors');
    writeGptCheckpoint(file, model);
    const { tensors, metadata } = readSafetensors(fs.readFileSync(file));
    for (const i of [0, 1]) {
      const mask = tensors.get(`trf_blocks.${i}.att.mask`);
      assert.ok(mask, `trf_blocks.${i}.att.mask is written`);
      assert.deepEqual(mask.shape, [6, 6]);
      const expected = Array.from({ length: 36 }, (_, k) => (k % 6 > Math.floor(k / 6) ? 1 : 0));
      assert.deepEqual([...mask.data], expected, 'triu(ones(C, C), diagonal=1)');
    }
    assert.equal(tensors.has('trf_blocks.2.att.mask'), false);
    // the same weights without the buffers (a state_dict saved without them): the same model
    const without = path.join(dir, 'without-mask.safetensors');
    fs.writeFileSync(without, writeSafetensors([...tensors].filter(([name]) => !name.endsWith('.att.mask')), metadata));
    const a = gptToTensors(readGptCheckpoint(file).model.weights);
    const b = gptToTensors(readGptCheckpoint(without).model.weights);
    assert.deepEqual([...a.keys()], [...b.keys()]);
    for (const [name, tensor] of a) assert.deepEqual(b.get(name)?.data, tensor.data, name);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
