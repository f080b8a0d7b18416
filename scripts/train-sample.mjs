// npm run train:sample: trains the model that ships with the extension (media/models/poems.safetensors)
// through `llm101 train`, on the bundled poems, with a fixed seed: the same command gives the same
// checkpoint on any machine (the engine's results do not depend on the thread count).
//
// The preset: word tokenizer, dim 64, 4 heads, 2 layers, context 64, batch 8, AdamW lr 1e-3 with
// weight decay 0.1, dropout 0.1, 150 steps. The poems are about 3,400 word tokens and a vocabulary
// of 972, so the model overfits fast: validation loss (the last 10 % of the tokens, the haiku) is
// lowest near step 100-150 (about 6.0) and climbs after it while the training loss keeps falling;
// 150 steps stops there. Run with --steps N to try another length (the log shows every evaluation).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  console.error('train-sample: dist/cli.js is missing; run npm run build first (npm run train:sample does)');
  process.exit(2);
}
const extra = process.argv.slice(2);
const steps = extra.includes('--steps') ? [] : ['--steps', '150'];
const out = path.join(root, 'media', 'models', 'poems.safetensors');
const log = path.join(os.tmpdir(), 'llm101-train-sample.jsonl');
const args = [
  cli, 'train', '--corpus', path.join(root, 'media', 'corpus'), '--tokenizer', 'word',
  '--dim', '64', '--heads', '4', '--layers', '2', '--context-length', '64', '--batch', '8',
  '--lr', '0.001', '--weight-decay', '0.1', '--seed', '123', '--dropout', '0.1', '--eval-every', '25',
  ...steps, ...extra, '--out', out, '--log', log,
];
console.error(`train-sample: node ${args.map((a) => path.relative(root, a) || a).join(' ')}`);
const started = performance.now();
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
const evals = fs.readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line)).filter((entry) => entry.valLoss !== undefined);
const best = evals.reduce((a, b) => ((b.valLoss ?? Infinity) < (a.valLoss ?? Infinity) ? b : a));
console.error(
  `train-sample: ${((performance.now() - started) / 1000).toFixed(1)} s, ${(fs.statSync(out).size / 1024).toFixed(0)} KiB; ` +
    `lowest validation loss ${best.valLoss.toFixed(4)} at step ${best.step} (log: ${log})`,
);
