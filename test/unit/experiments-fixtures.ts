// The experiments' fixture (scripts/gen_experiment_fixtures.py): its folder and case.json's shape.

import * as path from 'node:path';
import type { AblationMode } from '../../src/engine/experiments/ablation';
import type { HeadScore } from '../../src/engine/experiments/headScores';

export const EXPERIMENT_FIXTURES = path.join(__dirname, '..', 'fixtures', 'experiments');

export interface Top {
  id: number;
  p: number;
}
export interface AblationCase {
  heads: [number, number][];
  mode: AblationMode;
  position: number;
  before: Top[];
  after: Top[];
  kl: number;
  lossBefore: number;
  lossAfter: number;
}
export interface AttributionCase {
  position: number;
  id: number;
  logit: number;
  embed: number;
  heads: number[][];
  attnBias: number[];
  mlps: number[];
  finalNormBias: number;
}
export interface ExperimentCase {
  text: string;
  ids: number[];
  lens: { top: Top[][][]; final: number[][] };
  probe: { length: number; seed: number; ids: number[] };
  headScores: HeadScore[][];
  ablations: AblationCase[];
  scan: Record<AblationMode, number[][]>;
  attributions: AttributionCase[];
  patching: { cleanText: string; corruptText: string; answer: string; wrong: string; clean: number; corrupt: number; grid: number[][] };
}

