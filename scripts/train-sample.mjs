// npm run train:sample: trains the models that ship with the extension (media/models/) through
// `llm101 train`, with fixed seeds: the same command gives the same checkpoints on any machine (the
// engine's results do not depend on the thread count). `--only poems` or `--only copying` trains one.
// test/unit/bundled-models.test.ts measures what each is for and prints the numbers.
//
// poems.safetensors: the bundled poems (media/corpus, about 3,400 word tokens, a vocabulary of
//   972), word tokenizer, dim 64, 4 heads, 2 layers, context 256 (every bundled sample fits whole),
//   batch 8, AdamW lr 1e-3 with weight decay 0.1, dropout 0.1, 400 steps. The corpus is tiny for
//   its vocabulary, so the model learns the poems' lines rather than English: training loss 2.15,
//   validation loss (the last 10 %, the haiku) 7.30, lowest (6.02) at step 100 and rising after.
//   Stopped there, it loops ("the way the way the way"); at 400 steps it writes varied collages of
//   the poems' phrases (no 4-gram more than twice in 40 tokens at temperature 0.8, top-k 40).
//
// copying.safetensors: in-context copying with the textbook circuit. `llm101 train --task copying`
//   generates its text (src/engine/copyTask.ts): 60,000 lines of 4-24 words from 50, each line
//   written two or three times, and within a line each word with probability 1/2 a fixed function
//   of the word two before it. dim 64, ONE head per layer (so "the" head has a name), 2 layers,
//   context 64, batch 16, dropout 0, 3,000 steps at lr 2e-3 with a 200-step warm-up and a cosine
//   decay to 2e-4. Block 1's head becomes a previous-token head within about 500 steps (the rule
//   needs the word before), then block 2's head an induction head within the next 500, and the
//   loss on a line's later copies falls from ln 50 ≈ 3.9 to about 0.6 nats.
//   Why one head: each role then names one head; on the lines without the rule, 4 heads of 16
//   columns copied far more slowly. A guess at why, not tested: attending from each of 64 nearly
//   orthogonal starting positions to the one before takes a query-key map of rank near 64.
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
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
if (only !== undefined && only !== 'poems' && only !== 'copying') {
  console.error('train-sample: --only takes poems or copying');
  process.exit(2);
}
const models = path.join(root, 'media', 'models');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-train-sample-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

/** Runs `llm101 train ...`; returns the evaluations of its log. */
function train(name, flags) {
  const log = path.join(scratch, `${name}.jsonl`);
  const full = [cli, 'train', ...flags, '--log', log];
  console.error(`train-sample: node ${full.map((a) => path.relative(root, a) || a).join(' ')}`);
  const result = spawnSync(process.execPath, full, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  return fs.readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line)).filter((entry) => entry.valLoss !== undefined);
}

function summary(name, out, evals, started) {
  const last = evals.at(-1);
  const best = evals.reduce((a, b) => ((b.valLoss ?? Infinity) < (a.valLoss ?? Infinity) ? b : a));
  console.error(
    `train-sample: ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s, ${(fs.statSync(out).size / 1024).toFixed(0)} KiB; ` +
      `train loss ${last.trainLoss?.toFixed(4)}, validation loss ${last.valLoss?.toFixed(4)} (lowest ${best.valLoss?.toFixed(4)} at step ${best.step})`,
  );
}

if (only !== 'copying') {
  const started = performance.now();
  const out = path.join(models, 'poems.safetensors');
  const evals = train('poems', [
    '--corpus', path.join(root, 'media', 'corpus'), '--tokenizer', 'word',
    '--dim', '64', '--heads', '4', '--layers', '2', '--context-length', '256', '--batch', '8',
    '--lr', '0.001', '--weight-decay', '0.1', '--seed', '123', '--dropout', '0.1', '--eval-every', '25', '--steps', '400',
    '--out', out,
  ]);
  summary('poems', out, evals, started);
}

if (only !== 'poems') {
  const started = performance.now();
  const out = path.join(models, 'copying.safetensors');
  const evals = train('copying', [
    '--task', 'copying', '--tokenizer', 'word', '--dim', '64', '--heads', '1', '--layers', '2', '--context-length', '64',
    '--batch', '16', '--dropout', '0', '--val-fraction', '0.01', '--lr', '0.002', '--warmup-steps', '200', '--seed', '123',
    '--eval-every', '100', '--steps', '3000', '--no-best', '--out', out,
  ]);
  summary('copying', out, evals, started);
}
