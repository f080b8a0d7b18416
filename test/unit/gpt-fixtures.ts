// Loads the GPT fixtures written by scripts/gen_gpt_fixtures.py (test/fixtures/gpt/).

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GptConfig } from '../../src/engine/gpt/types';
import { readSafetensors } from '../../src/engine/io/safetensors';
import type { Matrix } from '../../src/engine/types';

export const GPT_FIXTURES = path.join(__dirname, '..', 'fixtures', 'gpt');

export interface BookCase {
  name: string;
  folder: string;
  config: GptConfig;
  seed: number;
  ids: number[];
  prompt: number[];
  greedy: number[];
  sampled: { seed: number; temperature: number; topK?: number; ids: number[] }[];
  lastProbabilities: number[];
  lastTop5Temperature07: number[];
  /** torch's intermediates by name: 'embeddings', 'blocks.0.attnWeights' (heads, T, T) as (heads·T, T), 'logits', … */
  reference: Map<string, Matrix>;
}

/** A tensor as a Matrix of its first dim by the rest (1-d: one column). */
export function readTensors(file: string): Map<string, Matrix> {
  const { tensors } = readSafetensors(fs.readFileSync(file));
  return new Map(
    [...tensors].map(([name, t]) => {
      const rows = t.shape.length > 2 ? t.shape.slice(0, -1).reduce((a, b) => a * b, 1) : (t.shape[0] ?? 1);
      return [name, { rows, cols: t.data.length / rows, data: t.data }];
    }),
  );
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

export function loadBookCase(name: string): BookCase {
  const folder = path.join(GPT_FIXTURES, name);
  const meta = readJson<Omit<BookCase, 'name' | 'folder' | 'reference'>>(path.join(folder, 'case.json'));
  return { ...meta, name, folder, reference: readTensors(path.join(folder, 'reference.safetensors')) };
}

/** The named reference tensor, or a failure naming it (a missing fixture fails, never skips). */
export function ref(references: ReadonlyMap<string, Matrix>, name: string): Matrix {
  const m = references.get(name);
  if (!m) throw new Error(`fixture has no tensor ${name}; rerun /usr/bin/python3 scripts/gen_gpt_fixtures.py`);
  return m;
}

export const BOOK_CASES = ['book-small', 'book-qkv-bias'] as const;
