// Training learns: the word tokenizer on the-verdict (test/fixtures), the book-style model at
// dim 32, 4 heads, 2 layers, context 32, batch 8, lr 1e-2, weight decay 0.1, 300 steps from
// torch.manual_seed(123)'s init. The loss starts near ln(vocabulary) ≈ 7 and must end well under
// 4 (PyTorch with this configuration reaches about 2.6).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { generate } from '../../src/engine/gpt/generate';
import { initGptWeights } from '../../src/engine/gpt/init';
import type { GptConfig } from '../../src/engine/gpt/types';
import { createTokenizer } from '../../src/engine/tokenizer';
import { Trainer } from '../../src/engine/train/trainer';

const STEPS = 300;

test(`${STEPS} steps on the-verdict bring the loss from about 7 to well under 4`, () => {
  const corpus = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'the-verdict.txt'), 'utf8');
  const tokenizer = createTokenizer({ kind: 'word', corpus });
  const ids = tokenizer.encode(corpus).map((token) => token.id);
  const config: GptConfig = { vocabSize: tokenizer.vocabSize, contextLength: 32, dim: 32, heads: 4, layers: 2, qkvBias: false, layerNormEps: 1e-5 };
  const trainer = new Trainer({ config, weights: initGptWeights(config, 123), ids, batchSize: 8, lr: 1e-2, weightDecay: 0.1, seed: 123 });
  const started = performance.now();
  const first = trainer.evaluate();
  const losses: number[] = [];
  for (let i = 0; i < STEPS; i++) losses.push(trainer.step().loss);
  const last = trainer.evaluate();
  const seconds = (performance.now() - started) / 1000;
  const tail = losses.slice(-20).reduce((a, b) => a + b, 0) / 20;
  console.log(
    `vocab ${config.vocabSize}, ${ids.length} tokens: train loss ${first.trainLoss?.toFixed(3)} -> ${last.trainLoss?.toFixed(3)}, ` +
      `validation ${first.valLoss?.toFixed(3)} -> ${last.valLoss?.toFixed(3)}, last 20 steps' mean ${tail.toFixed(3)}, ${seconds.toFixed(1)} s`,
  );
  // the caller's sample hook: the trained weights generate through the inference path
  const prompt = tokenizer.encode('I had always thought').map((token) => token.id);
  const generated = generate(trainer.model, prompt, { maxNewTokens: 12, temperature: 0 });
  assert.equal(generated.length, 12);
  console.log(`greedy sample: I had always thought${tokenizer.decode(generated).replace(/^(?=\w)/, ' ')}`);
  assert.ok(first.trainLoss! > 6.5, `the untrained loss ${first.trainLoss} should be near ln(${config.vocabSize})`);
  assert.ok(last.trainLoss! < 3.5 && tail < 3.5, `after ${STEPS} steps the loss is ${last.trainLoss} (last 20 steps ${tail}); it should be well under 4`);
});
