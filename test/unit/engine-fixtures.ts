// Loads the PyTorch fixtures written by scripts/gen_fixtures.py (test/fixtures/engine/): the book's
// chapter 3 modules with weights of their own (self_attn.*, mha.*, norm.*), any d_in and d_out.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors } from '../../src/engine/io/safetensors';
import { LAYER_NORM_EPS } from '../../src/engine/config';
import { createSeededGpt } from '../../src/engine/gpt/init';
import type { GptConfig } from '../../src/engine/gpt/types';
import type { BookChapter3Weights, StageRun, StageSource } from '../../src/engine/trace';
import type { Linear, Matrix, Token } from '../../src/engine/types';

export const FIXTURES = path.join(__dirname, '..', 'fixtures', 'engine');

/** The sizes a case was made with (case.json). */
export interface FixtureConfig {
  vocabSize: number;
  dim: number;
  attnDim: number;
  heads: number;
  dropout: number;
  seed: number;
  contextLength: number;
  qkvBias: boolean;
}

export interface FixtureCase {
  name: string;
  config: FixtureConfig;
  ids: number[];
  source: StageSource & { kind: 'book chapter 3' };
  run: StageRun;
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

/** The modules' tensors under their state_dict names as BookChapter3Weights. */
export function chapter3Weights(file: string): BookChapter3Weights {
  const { tensors } = readSafetensors(fs.readFileSync(file));
  const tensor = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${file} has no ${name}; rerun /usr/bin/python3 scripts/gen_fixtures.py`);
    return t;
  };
  const matrix = (name: string): Matrix => toMatrix(tensor(name).shape, tensor(name).data);
  const linear = (prefix: string): Linear => ({ weight: matrix(`${prefix}.weight`), ...(tensors.has(`${prefix}.bias`) && { bias: tensor(`${prefix}.bias`).data }) });
  return {
    tokEmb: matrix('tok_emb.weight'),
    posEmb: matrix('pos_emb.weight'),
    selfAttn: { query: linear('self_attn.W_query'), key: linear('self_attn.W_key'), value: linear('self_attn.W_value') },
    mha: { query: linear('mha.W_query'), key: linear('mha.W_key'), value: linear('mha.W_value'), outProj: linear('mha.out_proj') },
    norm: { scale: tensor('norm.scale').data, shift: tensor('norm.shift').data },
  };
}

export function loadCase(name: string): FixtureCase {
  const folder = path.join(FIXTURES, name);
  const meta = JSON.parse(fs.readFileSync(path.join(folder, 'case.json'), 'utf8')) as {
    config: FixtureConfig;
    ids: number[];
  };
  const float64File = path.join(folder, 'reference-float64.safetensors');
  const { heads, dropout, seed } = meta.config;
  return {
    name,
    config: meta.config,
    ids: meta.ids,
    source: { kind: 'book chapter 3', weights: chapter3Weights(path.join(folder, 'weights.safetensors')), heads },
    run: { tokenizer: 'word', dropout, seed },
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

/** The seeded model's sizes a test names; layers 1, qkvBias off and ε 1e-5 unless given. */
export type SeededSizes = Pick<GptConfig, 'vocabSize' | 'contextLength' | 'dim' | 'heads'> & Partial<GptConfig>;

/**
 * The stages as the panel runs them: block 1 of torch.manual_seed(seed); GPTModel(cfg), with the
 * masks' dropout and the same seed.
 */
export function seededStages(sizes: SeededSizes, run: { dropout: number; seed: number }): { source: StageSource & { kind: 'block 1' }; run: StageRun } {
  const config: GptConfig = { layers: 1, qkvBias: false, layerNormEps: LAYER_NORM_EPS, ...sizes };
  return { source: { kind: 'block 1', model: createSeededGpt(config, run.seed) }, run: { tokenizer: 'word', ...run } };
}
