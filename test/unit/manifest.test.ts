// The settings' defaults in package.json are the engine's defaults: one set of numbers.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import manifest from '../../package.json';
import { DEFAULT_CONFIG } from '../../src/engine/config';
import { BPE_DEFAULT_VOCAB } from '../../src/engine/tokenizer';

test('llm101.* defaults match DEFAULT_CONFIG', () => {
  const props = manifest.contributes.configuration.properties as Record<string, { default: unknown }>;
  const defaultOf = (key: string) => props[`llm101.${key}`]?.default;
  for (const key of ['tokenizer', 'dim', 'heads', 'dropout', 'seed', 'contextLength', 'qkvBias'] as const) {
    assert.equal(defaultOf(key), DEFAULT_CONFIG[key], `llm101.${key}`);
  }
  assert.equal(defaultOf('bpeVocabSize'), BPE_DEFAULT_VOCAB);
  assert.equal(defaultOf('maxTokens'), DEFAULT_CONFIG.contextLength);
});
