// The experiments' fixture (scripts/gen_experiment_fixtures.py): its folder and case.json's shape.

import * as path from 'node:path';
import type { AblationMode } from '../../src/engine/experiments/ablation';
import type { Attribution } from '../../src/engine/experiments/attribution';
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
/** What torch's hooks give for one attribution: the engine's parts, each within 1e-4. */
export type AttributionCase = Attribution;
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

