// Loads the PyTorch training fixtures written by scripts/gen_train_fixtures.py (test/fixtures/train/).

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GptConfig, GptWeights } from '../../src/engine/gpt/types';
import { readSafetensors } from '../../src/engine/io/safetensors';
import { gptParameters, zeroGptWeights } from '../../src/engine/train/model';

export const TRAIN_FIXTURES = path.join(__dirname, '..', 'fixtures', 'train');

export interface TrainCase {
  name: string;
  config: GptConfig;
  training: { batch: number; tokens: number; lr: number; weightDecay: number; steps: number; clipGradNorm?: number; sampleSeed?: number };
  dropout: number;
  /** Per step, the batch's rows of tokens + 1 ids. */
  batches: number[][][];
  losses: number[];
  gradNorms?: number[];
  ids?: number[];
  split?: number;
  valLoss?: number;
  valWindows?: number;
  init: GptWeights;
  /** Step 1's gradients by state_dict name. */
  grads: Map<string, Float32Array>;
  /** The weights after the last step, by state_dict name. */
  final: Map<string, Float32Array>;
}

export function readNamed(file: string): Map<string, Float32Array> {
  const { tensors } = readSafetensors(fs.readFileSync(file));
  return new Map([...tensors].map(([name, t]) => [name, t.data]));
}

/** Weights for `config` filled from a state_dict file; every parameter must be there, nothing else. */
export function weightsFromFile(config: GptConfig, file: string): GptWeights {
  const tensors = readNamed(file);
  const weights = zeroGptWeights(config);
  const params = gptParameters(weights);
  for (const p of params) {
    const data = tensors.get(p.name);
    if (!data || data.length !== p.data.length) throw new Error(`${file}: ${p.name} missing or of ${data?.length} values, expected ${p.data.length}`);
    p.data.set(data);
  }
  // besides the parameters only the book's causal-mask buffers (att.mask) may be there
  const count = [...tensors.keys()].filter((name) => !name.endsWith('.att.mask')).length;
  if (count !== params.length) throw new Error(`${file}: ${count} tensors, the model has ${params.length}`);
  return weights;
}

export function loadTrainCase(name: string): TrainCase {
  const folder = path.join(TRAIN_FIXTURES, name);
  const meta = JSON.parse(fs.readFileSync(path.join(folder, 'case.json'), 'utf8')) as Omit<TrainCase, 'name' | 'init' | 'grads' | 'final'>;
  return {
    ...meta,
    name,
    init: weightsFromFile(meta.config, path.join(folder, 'init.safetensors')),
    grads: readNamed(path.join(folder, 'grads.safetensors')),
    final: readNamed(path.join(folder, 'final.safetensors')),
  };
}
