// `llm101 train --init` takes every size from the checkpoint's tensors (dim, layers, context, the
// qkv bias), also from a state_dict without our metadata; only the heads need --heads there.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { trainRequestFrom } from '../../src/cli/train';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { gptToTensors } from '../../src/engine/io/gptCheckpoint';
import { writeSafetensors } from '../../src/engine/io/safetensors';

test('--init of a book state_dict with dim 24 and 3 heads trains at its own sizes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-init-'));
  try {
    const file = path.join(dir, 'book.safetensors');
    const config = { vocabSize: 40, contextLength: 16, dim: 24, heads: 3, layers: 3, qkvBias: true, layerNormEps: 1e-5 };
    fs.writeFileSync(file, writeSafetensors(gptToTensors(createSeededGpt(config, 3).weights)));
    const corpus = path.join(dir, 'corpus.txt');
    fs.writeFileSync(corpus, 'a b c d e f g h i j k l m n o p q r s t u v w x y z '.repeat(4));
    const { request } = trainRequestFrom({ init: file, heads: '3', corpus, out: path.join(dir, 'out.safetensors') }, dir);
    assert.deepEqual([request.dim, request.heads, request.layers, request.contextLength, request.qkvBias], [24, 3, 3, 16, true]);
    assert.throws(() => trainRequestFrom({ init: file, heads: '3', dim: '64', corpus, out: 'x.safetensors' }, dir), /--dim 64 disagrees with --init .*, whose dim is 24/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
