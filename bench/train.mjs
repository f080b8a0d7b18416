// `node bench/train.mjs`: one training step of the book's GPTModel (forward, backward, AdamW),
// ours (benchTrain, bench/train-ours.ts) beside PyTorch (bench/train-torch.py, Debian's
// python3-torch with OpenBLAS, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset so it picks this
// CPU's kernels, 2 threads), same model sizes and batch, in one run. Each runs in its own process;
// they take turns for --rounds rounds per shape (each the median of --steps steps after a
// warm-up), so a change in the machine's load hits both alike. Prints per shape the median over
// rounds of each time, the median of the per-round ratios ours/torch, and the load average.
//
//   node bench/train.mjs [--steps N] [--rounds N] [--shapes V:D:H:L:C:B,...] [--json FILE]
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
  },
});
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

function runOurs(shape) {
  return runJson(process.execPath, ['--import', 'tsx', 'bench/train-ours.ts', ...flags(shape)]);
}

function runTorch(shape) {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return runJson('/usr/bin/python3', ['bench/train-torch.py', ...flags(shape), '--threads', '2'], env);
}

const rows = [];
for (const shape of shapes) {
  const loadBefore = os.loadavg()[0];
  const ours = [];
  const torch = [];
  for (let round = 0; round < Number(args.rounds); round++) {
    ours.push(runOurs(shape));
    torch.push(runTorch(shape));
  }
  const ratios = ours.map((o, i) => o.msPerStep / torch[i].msPerStep);
  const row = {
    shape,
    oursMs: median(ours.map((o) => o.msPerStep)),
    torchMs: median(torch.map((t) => t.msPerStep)),
    ratio: median(ratios),
    oursPhases: ['forwardMs', 'backwardMs', 'optimizerMs'].map((k) => median(ours.map((o) => o[k]))),
    torchPhases: ['forwardMs', 'backwardMs', 'optimizerMs'].map((k) => median(torch.map((t) => t[k]))),
    oursTokensPerSecond: median(ours.map((o) => o.tokensPerSecond)),
    torchTokensPerSecond: median(torch.map((t) => t.tokensPerSecond)),
    load: [loadBefore, os.loadavg()[0]],
  };
  rows.push(row);
  const { vocab, dim, heads, layers, seq, batch } = shape;
  const phases = (p) => p.map((ms) => ms.toFixed(0)).join('/');
  console.log(
    `vocab ${vocab} dim ${dim} heads ${heads} layers ${layers} context ${seq} batch ${batch}: ` +
      `ours ${row.oursMs.toFixed(1)} ms (${phases(row.oursPhases)} fwd/bwd/adamw, ${row.oursTokensPerSecond.toFixed(0)} tok/s), ` +
      `torch ${row.torchMs.toFixed(1)} ms (${phases(row.torchPhases)}, ${row.torchTokensPerSecond.toFixed(0)} tok/s), ` +
      `ours/torch ${row.ratio.toFixed(2)}x [rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')}], load ${row.load.map((l) => l.toFixed(1)).join(' -> ')}`,
  );
}
if (args.json) fs.writeFileSync(args.json, JSON.stringify(rows, null, 1) + '\n');
