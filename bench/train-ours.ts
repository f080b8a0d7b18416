// Our side of bench/train.mjs: benchTrain (src/engine/train/bench.ts) in its own process, one
// JSON line out. Run from the repository root:
//   node --import tsx bench/train-ours.ts --vocab 512 --dim 128 --heads 4 --layers 4 --seq 64 --batch 12 [--steps 5]
import { parseArgs } from 'node:util';
import { benchTrain } from '../src/engine/train/bench';

const { values } = parseArgs({
  options: Object.fromEntries(['vocab', 'dim', 'heads', 'layers', 'seq', 'batch', 'steps', 'threads'].map((name) => [name, { type: 'string' as const }])),
});
const number = (name: string): number | undefined => (values[name] === undefined ? undefined : Number(values[name]));
const result = benchTrain({
  vocab: number('vocab')!,
  dim: number('dim')!,
  heads: number('heads')!,
  layers: number('layers')!,
  seq: number('seq')!,
  batch: number('batch')!,
  steps: number('steps'),
  threads: number('threads'),
});
console.log(JSON.stringify(result));
