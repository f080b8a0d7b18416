// `node bench/train.mjs`: one training step of the book's GPTModel (forward, backward, AdamW),
// ours (benchTrain, bench/train-ours.ts) beside PyTorch (bench/train-torch.py, Debian's
// python3-torch with OpenBLAS, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset so it picks this
// CPU's kernels, 2 threads) on the book's model and on the same model with torch's fused layer
// norm and GELU (--fused, the stronger anchor), same sizes and batch, in one run. Each runs in its own process;
// they take turns for --rounds rounds per shape (each the median of --steps steps after a
// warm-up), so a change in the machine's load hits both alike. Prints per shape the median over
// rounds of each time, the median of the per-round ratios ours/torch, the ratio of the fastest
// steps seen, and the load average.
//
//   node bench/train.mjs [--steps N] [--rounds N] [--shapes V:D:H:L:C:B,...] [--json FILE] [--wait-idle PERCENT]
// --wait-idle: before each run, wait (up to 3 minutes) until the machine's CPUs are less than
// PERCENT busy over 2 s, for a machine other jobs share (PyTorch's OpenBLAS threads slow down
// far more than ours when a core is taken, which would flatter the ratio).
// Default shapes: nanoGPT's CPU configuration (vocab 512, dim 128, 4 heads, 4 layers, context 64,
// batch 12) and a larger one (2048, 256, 8, 6, 128, 8).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    shapes: { type: 'string', default: '512:128:4:4:64:12,2048:256:8:6:128:8' },
    json: { type: 'string' },
    'wait-idle': { type: 'string' },
  },
});
const idleBelow = args['wait-idle'] === undefined ? undefined : Number(args['wait-idle']);
const shapes = args.shapes.split(',').map((text) => {
  const [vocab, dim, heads, layers, seq, batch] = text.split(':').map(Number);
  return { vocab, dim, heads, layers, seq, batch };
});
const flags = (shape) => [
  ...Object.entries(shape).flatMap(([name, value]) => [`--${name}`, String(value)]),
  '--steps',
  args.steps,
];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Runs a child and returns its last stdout line as JSON; on failure, a short message (the stack tails are long). */
function runJson(command, argv, env = process.env) {
  const child = spawnSync(command, argv, { cwd: root, env, encoding: 'utf8' });
  if (child.status !== 0) {
    const lines = (child.stderr || child.error?.message || '').split('\n').filter((line) => /^\w*Error\b/.test(line.trim()));
    throw new Error(`${path.basename(argv.find((a) => a.startsWith('bench/')) ?? command)} failed: ${lines.slice(0, 3).join(' | ').slice(0, 500)}`);
  }
  return JSON.parse(child.stdout.trim().split('\n').pop());
}

/** The CPUs' busy share over `ms`, in percent (os.cpus() times). */
function busyPercent(ms) {
  const total = (cpus) => cpus.reduce((sum, { times }) => sum + times.user + times.nice + times.sys + times.idle + times.irq, 0);
  const idle = (cpus) => cpus.reduce((sum, { times }) => sum + times.idle, 0);
  const before = os.cpus();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const after = os.cpus();
  return 100 - (100 * (idle(after) - idle(before))) / (total(after) - total(before));
}

/** With --wait-idle, blocks until the machine is quiet (or 3 minutes pass); returns the busy share seen. */
function waitForIdle() {
  if (idleBelow === undefined) return undefined;
  const deadline = Date.now() + 180_000;
  let busy = busyPercent(2000);
  while (busy >= idleBelow && Date.now() < deadline) busy = busyPercent(2000);
  return busy;
}

function runOurs(shape) {
  return runJson(process.execPath, ['--import', 'tsx', 'bench/train-ours.ts', ...flags(shape)]);
}

function runTorch(shape, fused) {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return runJson('/usr/bin/python3', ['bench/train-torch.py', ...flags(shape), '--threads', '2', ...(fused ? ['--fused'] : [])], env);
}

// the runtimes of one round, in turn: ours, torch on the book's model, torch with fused layer norm and GELU
const RUNNERS = { ours: (shape) => runOurs(shape), torch: (shape) => runTorch(shape, false), torchFused: (shape) => runTorch(shape, true) };

const rows = [];
for (const shape of shapes) {
  const loadBefore = os.loadavg()[0];
  const runs = Object.fromEntries(Object.keys(RUNNERS).map((name) => [name, []]));
  const busy = [];
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const [name, run] of Object.entries(RUNNERS)) {
      busy.push(waitForIdle());
      runs[name].push(run(shape));
    }
  }
  // per runtime: the median over rounds of each round's median step, and the fastest step seen
  // (on a shared machine the fastest step is the one least disturbed)
  const summary = (name) => ({
    ms: median(runs[name].map((r) => r.msPerStep)),
    minMs: Math.min(...runs[name].flatMap((r) => r.samplesMs)),
    phases: ['forwardMs', 'backwardMs', 'optimizerMs'].map((k) => median(runs[name].map((r) => r[k]))),
    tokensPerSecond: median(runs[name].map((r) => r.tokensPerSecond)),
  });
  const row = { shape, ...Object.fromEntries(Object.keys(RUNNERS).map((name) => [name, summary(name)])) };
  for (const anchor of ['torch', 'torchFused']) {
    const ratios = runs.ours.map((o, i) => o.msPerStep / runs[anchor][i].msPerStep);
    row[anchor].ratio = median(ratios);
    row[anchor].roundRatios = ratios;
    row[anchor].minRatio = row.ours.minMs / row[anchor].minMs;
  }
  row.load = [loadBefore, os.loadavg()[0]];
  row.busyBeforeRuns = busy;
  rows.push(row);
  const { vocab, dim, heads, layers, seq, batch } = shape;
  const phases = (p) => p.map((ms) => ms.toFixed(0)).join('/');
  const line = (name) => `${row[name].ms.toFixed(1)} ms (min ${row[name].minMs.toFixed(1)}; ${phases(row[name].phases)} fwd/bwd/adamw)`;
  const ratio = (anchor) =>
    `${row[anchor].ratio.toFixed(2)}x [rounds ${row[anchor].roundRatios.map((r) => r.toFixed(2)).join(', ')}; fastest steps ${row[anchor].minRatio.toFixed(2)}x]`;
  console.log(
    `vocab ${vocab} dim ${dim} heads ${heads} layers ${layers} context ${seq} batch ${batch}\n` +
      `  ours ${line('ours')}, ${row.ours.tokensPerSecond.toFixed(0)} tok/s\n` +
      `  torch, book's model ${line('torch')}: ours/torch ${ratio('torch')}\n` +
      `  torch, fused norm + GELU ${line('torchFused')}: ours/torch ${ratio('torchFused')}\n` +
      `  load ${row.load.map((l) => l.toFixed(1)).join(' -> ')}` +
      (idleBelow === undefined ? '' : `, CPUs busy before each run ${busy.map((b) => `${b.toFixed(0)}%`).join(' ')}`),
  );
}
if (args.json) fs.writeFileSync(args.json, JSON.stringify(rows, null, 1) + '\n');
