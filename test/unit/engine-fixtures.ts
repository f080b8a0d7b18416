// Loads the PyTorch fixtures written by scripts/gen_fixtures.py (test/fixtures/engine/).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors } from '../../src/engine/io/safetensors';
import { readWeightsFile } from '../../src/engine/io/weightsFile';
import type { EngineConfig, Matrix, Token, Weights } from '../../src/engine/types';

export const FIXTURES = path.join(__dirname, '..', 'fixtures', 'engine');

export interface FixtureCase {
  name: string;
  config: EngineConfig;
  ids: number[];
  weights: Weights;
  /** PyTorch's float32 forward pass, by stage name (e.g. 'causal.weights', 'multiHead.heads.0.context'). */
  reference: Map<string, Matrix>;
  /** The same run in float64, rounded to float32 (absent for the book example). */
  reference64?: Map<string, Matrix>;
}

/** A tensor as a Matrix: 2-d as is, 1-d as one column (so a vector compares element by element). */
function toMatrix(shape: readonly number[], data: Float32Array): Matrix {
  const rows = shape[0] ?? 1;
  const cols = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  return { rows, cols, data };
}

export function readTensors(file: string): Map<string, Matrix> {
  const { tensors } = readSafetensors(fs.readFileSync(file));
  return new Map([...tensors].map(([name, t]) => [name, toMatrix(t.shape, t.data)]));
}

export function loadCase(name: string): FixtureCase {
  const folder = path.join(FIXTURES, name);
  const meta = JSON.parse(fs.readFileSync(path.join(folder, 'case.json'), 'utf8')) as {
    config: EngineConfig;
    ids: number[];
  };
  const float64File = path.join(folder, 'reference-float64.safetensors');
  return {
    name,
    config: meta.config,
    ids: meta.ids,
    weights: readWeightsFile(path.join(folder, 'weights.safetensors')).weights,
    reference: readTensors(path.join(folder, 'reference.safetensors')),
    reference64: fs.existsSync(float64File) ? readTensors(float64File) : undefined,
  };
}

/** Every stage-fixture case (each folder with a case.json). */
export function caseNames(): string[] {
  return fs
    .readdirSync(FIXTURES)
    .filter((entry) => fs.existsSync(path.join(FIXTURES, entry, 'case.json')))
    .sort();
}

/** Tokens for ids, with made-up surface forms "t0 t1 ..." and their offsets. */
export function tokensFromIds(ids: readonly number[]): Token[] {
  let offset = 0;
  return ids.map((id, i) => {
    const text = `t${i}`;
    const token = { id, text, start: offset, end: offset + text.length };
    offset += text.length + 1;
    return token;
  });
}

export function readJson<T>(relative: string): T {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, relative), 'utf8')) as T;
}
