// The experiments at GPT-2 small's sizes (seeded GPT_CONFIG_124M, 24 tokens) beside a plain
// forward of the same text measured in the same run: the logit lens with the head scores (the
// text's run with its cache, the lens of 13 × 24 readings, a 2 × 20-token induction probe), one
// ablation (recomputed from the ablated block on: a head in the first block, the slowest case,
// and one in the middle), the scan of all 144 heads, and activation patching (12 × 24 runs).
// Run from the repository root (npm run bench runs it last):
//   node --import tsx bench/experiments.ts [--tokens 24] [--reps 3] [--json]
import { parseArgs } from 'node:util';
import { GPT_CONFIG_124M } from '../src/engine/gpt/config';
import { sampleIds } from '../src/engine/gpt/bench';
import { createSeededGpt } from '../src/engine/gpt/init';
import { ablate, scanHeads } from '../src/engine/experiments/ablation';
import { headScores, inductionProbe } from '../src/engine/experiments/headScores';
import { logitLens } from '../src/engine/experiments/lens';
import { activationPatching } from '../src/engine/experiments/patching';
import { runWithCache } from '../src/engine/experiments/run';
import { kernelThreads, warmUpKernel } from '../src/engine/kernels';
import { gptForward, packGptWeights } from '../src/engine/layers/gptModel';
import * as os from 'node:os';

const { values } = parseArgs({ options: { tokens: { type: 'string', default: '24' }, reps: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } });
const T = Number(values.tokens);
const reps = Number(values.reps);
const model = createSeededGpt(GPT_CONFIG_124M, 123);
const { layers, heads, vocabSize } = model.config;
warmUpKernel();
const packed = packGptWeights(model);
const ids = sampleIds(T, vocabSize);
const corrupt = ids.map((id, t) => (t === 3 ? (id + 1) % vocabSize : id));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
function time(run: () => unknown, times = reps): number {
  if (times > 1) run(); // untimed: JIT, workspace growth (the scan and patching run once, after the ablations warmed up)
  const samples: number[] = [];
  for (let r = 0; r < times; r++) {
    const start = performance.now();
    run();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const load = () => os.loadavg()[0]!.toFixed(2);
const rows: { name: string; ms: number; targetMs?: number }[] = [];
const show = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
if (!values.json) console.log(`\nExperiments, seeded GPT-2 small sizes (${layers} layers x ${heads} heads, dim ${model.config.dim}), ${T} tokens, ${kernelThreads()} kernel threads, load ${load()}:`);
/** Times one experiment and prints its line at once (the scan and patching take tens of seconds). */
function measure(name: string, targetMs: number | undefined, run: () => unknown, times = reps): void {
  const ms = time(run, times);
  rows.push({ name, ms, ...(targetMs !== undefined && { targetMs }) });
  if (values.json) return;
  const forwards = `${(ms / rows[0]!.ms).toFixed(1)} forwards`;
  const verdict = targetMs === undefined ? '' : `  (target <= ${show(targetMs)}: ${ms <= targetMs ? 'met' : 'NOT met'})`;
  console.log(`  ${name.padEnd(28)} ${show(ms).padStart(9)}  ${forwards.padStart(16)}${verdict}`);
}

measure('plain forward (all logits)', undefined, () => gptForward(model, ids, { packed }));
measure('lens + head scores', 1000, () => {
  const cache = runWithCache(model, ids, { z: true, patterns: true }, { packed });
  logitLens(model, cache, { packed });
  headScores(model, cache, inductionProbe(20, 123, vocabSize), packed);
});
const base = runWithCache(model, ids, { z: true }, { packed });
measure('one ablation, head 1.1', 300, () => ablate(model, base, [{ layer: 0, head: 0 }], 'zero', T - 1, packed));
measure(`one ablation, head ${layers / 2 + 1}.1`, 300, () => ablate(model, base, [{ layer: layers / 2, head: 0 }], 'zero', T - 1, packed));
measure(`scan all ${layers * heads} heads`, 30000, () => scanHeads(model, base, 'zero', { packed }), 1);
measure(`patching ${layers} x ${T} runs`, 40000, () => activationPatching(model, ids, corrupt, ids[4]!, ids[5]!, { packed }), 1);
packed.release();
if (values.json) console.log(JSON.stringify({ tokens: T, threads: kernelThreads(), load: load(), rows }));
else console.log(`  load after: ${load()}`);
