// `llm101 train` through runCli (and the built binary for Ctrl+C): the log's losses are the
// engine's (TrainingSession on the same request), --batches + --init + --grads-out reproduce the
// PyTorch fixtures of scripts/gen_train_fixtures.py, the checkpoint loads back with only --weights,
// every bad input exits 2 with one line; and `llm101 bench --train --json`.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli, type CliIo } from '../../src/cli';
import { readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { TrainingSession } from '../../src/engine/train/session';
import { COPY_WORDS } from '../../src/engine/copyTask';
import { assertClose } from './assertClose';
import { TRAIN_FIXTURES, loadTrainCase, readNamed } from './train-fixtures';

const ROOT = path.join(__dirname, '..', '..');
const poems = path.join(ROOT, 'media', 'corpus');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-cli-train-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

async function run(args: string[], extra: Partial<CliIo> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) }, ...extra });
  return { code, stdout, stderr };
}

type LogLine = { step: number; loss?: number; lr?: number; tokensPerSecond?: number; trainLoss?: number | null; valLoss?: number | null };
const readLog = (file: string): LogLine[] => fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as LogLine);
const stepLines = (log: LogLine[]) => log.filter((line) => line.loss !== undefined);
const evalLines = (log: LogLine[]) => log.filter((line) => line.loss === undefined);
const out = (name: string) => path.join(scratch, name);

test("a short run: the log's losses and evaluations are the engine's, bit for bit, and the checkpoint is the session's", async () => {
  const args = ['--corpus', poems, '--tokenizer', 'word', '--dim', '16', '--heads', '2', '--layers', '2', '--context-length', '16', '--batch', '4',
    '--steps', '6', '--lr', '0.005', '--weight-decay', '0.1', '--seed', '7', '--dropout', '0.1', '--val-fraction', '0.1', '--eval-every', '3'];
  const file = out('short.safetensors');
  const result = await run(['train', ...args, '--out', file, '--log', out('short.jsonl')]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^trained 6 steps in [\d.]+ s \([\d,]+ tokens\/s\): train loss [\d.]+, validation loss [\d.]+\nwrote /);
  // not a terminal: plain lines (the first step, the last, the evaluations), no carriage returns
  assert.doesNotMatch(result.stderr, /\r/);
  assert.match(result.stderr, /^training 2 layers · dim 16 · 4? ?/);
  assert.match(result.stderr, /\nstep 1\/6 loss [\d.]+ · [\d,]+ tokens\/s\n/);
  assert.match(result.stderr, /\nstep 3: train loss [\d.]+, validation loss [\d.]+\n/);

  const session = TrainingSession.prepare({
    corpusPaths: [poems], tokenizer: 'word', dim: 16, heads: 2, layers: 2, contextLength: 16, batchSize: 4, steps: 6, lr: 0.005, weightDecay: 0.1,
    seed: 7, dropout: 0.1, validationFraction: 0.1,
  });
  const first = session.evaluate(); // the driver evaluates the untrained model first
  const expected: LogLine[] = [{ step: 0, trainLoss: first.trainLoss ?? null, valLoss: first.valLoss ?? null }];
  while (!session.done) {
    const step = session.step();
    expected.push({ step: step.step, loss: step.loss, lr: step.lr });
    if (step.step % 3 === 0) {
      const e = session.evaluate();
      expected.push({ step: e.step, trainLoss: e.trainLoss ?? null, valLoss: e.valLoss ?? null });
    }
  }
  const log = readLog(out('short.jsonl'));
  assert.deepEqual(
    log.map((line) => (line.loss !== undefined ? { step: line.step, loss: line.loss, lr: line.lr } : { step: line.step, trainLoss: line.trainLoss, valLoss: line.valLoss })),
    expected,
  );
  assert.ok(stepLines(log).every((line) => (line.tokensPerSecond ?? 0) > 0));
  const loaded = readGptCheckpoint(file);
  assert.equal(loaded.metadata['llm101.step'], '6');
  assert.deepEqual(loaded.model.weights.blocks[1]!.att.query.weight.data, session.trainer.weights.blocks[1]!.att.query.weight.data);
  assert.equal(Number(loaded.metadata['llm101.valLoss']), evalLines(log).at(-1)!.valLoss);
  // the lowest validation loss after step 0 is kept beside it
  const lowest = evalLines(log).filter((line) => line.step > 0).reduce((a, b) => ((b.valLoss ?? Infinity) < (a.valLoss ?? Infinity) ? b : a));
  const best = readGptCheckpoint(out('short.best.safetensors'));
  assert.equal(best.metadata['llm101.step'], String(lowest.step));
  assert.equal(Number(best.metadata['llm101.valLoss']), lowest.valLoss);

  // the checkpoint alone: its own tokenizer, sizes and heads
  const analyzed = await run(['analyze', '--weights', file, '--text', 'The sea reads the shore']);
  assert.equal(analyzed.code, 0, analyzed.stderr);
  assert.match(analyzed.stdout, /^word tokenizer \(vocabulary \d+\) · dim 16 · attnDim 16 · 2 heads/);
  assert.match(analyzed.stdout, /Model \(short\.safetensors\): 2 layers · dim 16 · 2 heads · context 16/);
  const generated = await run(['generate', '--weights', file, '--text', 'The sea', '--max-new-tokens', '4', '--json']);
  assert.equal(generated.code, 0, generated.stderr);
  assert.equal((JSON.parse(generated.stdout) as { generated: number[] }).generated.length, 4);
});

/** The flags that run a fixture's case through the CLI. */
function fixtureArgs(name: string): { args: string[]; fixture: ReturnType<typeof loadTrainCase> } {
  const fixture = loadTrainCase(name);
  const { config, training } = fixture;
  const folder = path.join(TRAIN_FIXTURES, name);
  // no corpus: the batches bring the ids, the vocabulary is the checkpoint's
  const args = [
    'train', '--init', path.join(folder, 'init.safetensors'), '--heads', String(config.heads),
    '--context-length', String(config.contextLength), '--steps', String(training.steps), '--lr', String(training.lr),
    '--weight-decay', String(training.weightDecay), '--dropout', String(fixture.dropout), '--batch', String(training.batch), '--eval-every', '0',
    '--out', out(`${name}.safetensors`), '--log', out(`${name}.jsonl`),
    ...(config.qkvBias ? ['--qkv-bias'] : []),
    ...(training.clipGradNorm !== undefined ? ['--clip-grad-norm', String(training.clipGradNorm)] : []),
    '--batches', path.join(folder, 'case.json'), '--grads-out', out(`${name}-grads.safetensors`),
  ];
  return { args, fixture };
}

// The sampled cases (batches drawn from the seeded generator) are the engine's tests
// (train-adamw.test.ts): a word corpus cannot give their ids, which leave words of the vocabulary unused.
for (const name of ['nobias', 'qkvbias', 'clip', 'long'] as const) {
  test(`through the CLI, PyTorch's run (${name}): losses per step, ${name === 'clip' ? '' : "step 1's gradients, "}weights after the last step`, async () => {
    const { args, fixture } = fixtureArgs(name);
    const result = await run(args);
    assert.equal(result.code, 0, result.stderr);
    const log = readLog(out(`${name}.jsonl`));
    const lossDiff = assertClose(stepLines(log).map((line) => line.loss!), fixture.losses, { atol: 1e-5, label: `${name} losses` });
    const lines = [`losses ${lossDiff.toExponential(2)}`];
    const { lr, steps } = fixture.training;
    if (name !== 'clip') {
      // --grads-out is the gradient the update used; with clipping on that is the clipped one, not torch's raw gradient
      let worst = 0;
      for (const [param, grad] of readNamed(out(`${name}-grads.safetensors`))) {
        worst = Math.max(worst, assertClose(grad, fixture.grads.get(param)!, { atol: 1e-5, rtol: 1e-4, label: `${name} d ${param}` }));
      }
      lines.push(`gradients ${worst.toExponential(2)}`);
    }
    let worst = 0;
    const final = readNamed(out(`${name}.safetensors`));
    // every parameter, and besides them only the book's causal-mask buffers (att.mask, not parameters)
    assert.equal([...final.keys()].filter((k) => !k.endsWith('.att.mask')).length, fixture.final.size, 'every parameter, nothing else');
    for (const [param, expected] of fixture.final) {
      // att.W_key.bias has no gradient (softmax ignores a constant per query) but float noise, which AdamW scales to ±lr a step
      const noiseOnly = param.endsWith('att.W_key.bias');
      const d = assertClose(final.get(param)!, expected, { ...(noiseOnly ? { atol: 2 * lr * steps } : { atol: 1e-5, rtol: 1e-4 }), label: `${name} ${param}` });
      if (!noiseOnly) worst = Math.max(worst, d);
    }
    lines.push(`weights after ${steps} steps ${worst.toExponential(2)}`);
    // no corpus, no tokenizer in --init: the checkpoint's vocabulary is the ids written as numbers,
    // the last two the word tokenizer's end-of-text and unknown entries
    const saved = JSON.parse(readGptCheckpoint(out(`${name}.safetensors`)).metadata['llm101.tokenizer'] ?? '{}') as { kind?: string; vocab?: string[] };
    assert.equal(saved.kind, 'word');
    const V = fixture.config.vocabSize;
    assert.deepEqual(saved.vocab, [...Array.from({ length: V - 2 }, (_, id) => String(id)), '<|endoftext|>', '<|unk|>']);
    console.log(`# ${name} through llm101 train vs torch, largest differences: ${lines.join(', ')}`);
  });
}

test('--no-best keeps only the last step\'s checkpoint', async () => {
  const file = out('nobest.safetensors');
  const result = await run(['train', '--corpus', poems, '--dim', '16', '--heads', '2', '--layers', '1', '--context-length', '16', '--batch', '4',
    '--steps', '4', '--eval-every', '2', '--no-best', '--out', file]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(readGptCheckpoint(file).metadata['llm101.step'], '4');
  assert.equal(fs.existsSync(out('nobest.best.safetensors')), false);
  assert.doesNotMatch(result.stdout, /lowest validation loss/);
});

test('--task copying trains on the generated copying corpus and names it in the checkpoint', async () => {
  const file = out('copying.safetensors');
  const result = await run(['train', '--task', 'copying', '--dim', '16', '--heads', '1', '--layers', '1', '--context-length', '16', '--batch', '2',
    '--steps', '2', '--eval-every', '0', '--no-best', '--out', file]);
  assert.equal(result.code, 0, result.stderr);
  const { model, metadata } = readGptCheckpoint(file);
  assert.equal(metadata['llm101.corpus'], 'the copying task (generated)');
  assert.equal(model.config.vocabSize, COPY_WORDS.length + 2, 'its 50 words and the word tokenizer\'s two special tokens');
});

test('bad inputs: exit 2 and one line that says what to change', async () => {
  const common = ['train', '--corpus', poems, '--dim', '16', '--layers', '1', '--context-length', '16', '--out', out('bad.safetensors')];
  const base = [...common, '--heads', '2'];
  const expectUsage = async (args: string[], pattern: RegExp) => {
    const result = await run(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^llm101: [^\n]+\n$/, 'one line');
    assert.match(result.stderr, pattern);
    assert.equal(fs.existsSync(out('bad.safetensors')), false, 'no checkpoint');
  };
  await expectUsage([...base, '--steps', '0'], /--steps must be a whole number from 1 to 1,000,000, got 0/);
  await expectUsage([...base, '--lr', '0'], /--lr must be above 0 \(e\.g\. 0\.0004\), got 0/);
  await expectUsage([...base, '--lr', '-0.1'], /--lr must be above 0 .*got -0\.1/);
  await expectUsage([...base, '--batch', '0'], /--batch must be a whole number from 1/);
  await expectUsage([...common, '--heads', '3'], /heads \(3\) must divide/);
  await expectUsage([...base, '--dropout', '1'], /dropout/);
  const tiny = path.join(scratch, 'tiny.txt');
  fs.writeFileSync(tiny, 'a few words only');
  await expectUsage([...base.map((a) => (a === poems ? tiny : a))], /the corpus has 4 word tokens, too few for one training window of 17 \(context length 16 \+ 1\)/);
  await expectUsage([...base, '--init', tiny], /^llm101: --init .*tiny\.txt is not a GPT checkpoint \(.*\): give a \.safetensors file in the book's GPTModel names/);
  await expectUsage([...base, '--init', path.join(ROOT, 'test', 'fixtures', 'nope.safetensors')], /--init .*nope\.safetensors is not a GPT checkpoint/);
  await expectUsage([...common, '--init', path.join(TRAIN_FIXTURES, 'nobias', 'init.safetensors')], /does not say how many heads .*: add --heads H/);
  await expectUsage(['train', '--corpus', poems], /^llm101: --out FILE\.safetensors is required/);
  await expectUsage(['train', '--out', out('bad.safetensors')], /^llm101: --corpus PATH is required.*; or --task copying$/m);
  await expectUsage(['train', '--task', 'copy', '--out', out('bad.safetensors')], /^llm101: unknown task "copy"; use --task copying$/m);
  await expectUsage([...base, '--task', 'copying'], /--task copying generates the corpus: drop --corpus, or drop --task to train on files/);
  const idsOnly = path.join(scratch, 'ids-only.json');
  fs.writeFileSync(idsOnly, JSON.stringify({ batches: [[[1, 2, 3]]] }));
  await expectUsage(['train', '--batches', idsOnly, '--out', out('bad.safetensors')], /given batches without a corpus need a checkpoint to start from \(--init: the vocabulary is its own\) or the gpt2 tokenizer/);
  await expectUsage([...base, '--tokenizer', 'words'], /unknown tokenizer "words"; use --tokenizer word \| bpe \| gpt2/);
  await expectUsage([...base, '--patience', '0'], /--patience takes a number of evaluations, at least 1 \(default 3\), got 0/);
  const batches = path.join(scratch, 'batches.json');
  fs.writeFileSync(batches, JSON.stringify({ batches: [[[1, 2, 3], [4, 5]]] }));
  await expectUsage([...base, '--batches', batches], /batches\[0\]\[1\] must be a list of 3 token ids/);
  fs.writeFileSync(batches, JSON.stringify({ batches: [[[1, 2, 1_000_000]]] }));
  await expectUsage([...base, '--batches', batches], /batches\[0\]\[0\]\[2\] is 1000000, outside the model's vocabulary of \d+/);
  fs.writeFileSync(batches, JSON.stringify({ rows: [] }));
  await expectUsage([...base, '--batches', batches], /no "batches" list; expected \{"batches": /);
  // --init's sizes are the model's
  const init = path.join(scratch, 'init-sizes.safetensors');
  assert.equal((await run(['train', '--corpus', poems, '--dim', '16', '--heads', '2', '--layers', '1', '--context-length', '16', '--steps', '1', '--out', init])).code, 0);
  await expectUsage(['train', '--corpus', poems, '--init', init, '--dim', '32', '--out', out('bad.safetensors')], /--dim 32 disagrees with --init .*, whose dim is 16; drop --dim/);
});

test('--init one of our checkpoints: its sizes, heads and tokenizer kind; training goes on from its weights', async () => {
  const first = out('resume-1.safetensors');
  const common = ['--corpus', poems, '--steps', '2', '--batch', '2', '--eval-every', '0'];
  assert.equal((await run(['train', ...common, '--tokenizer', 'bpe', '--vocab-size', '300', '--dim', '16', '--heads', '4', '--layers', '1', '--context-length', '16', '--out', first])).code, 0);
  const second = out('resume-2.safetensors');
  const result = await run(['train', ...common, '--init', first, '--vocab-size', '300', '--out', second]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /^training 1 layer · dim 16 · 4 heads · context 16 · vocabulary 300 · [\d,]+ parameters from .*resume-1\.safetensors · bpe tokenizer/);
  const loaded = readGptCheckpoint(second);
  assert.equal(loaded.model.config.heads, 4);
  assert.equal(JSON.parse(loaded.metadata['llm101.tokenizer']!).kind, 'bpe');
});

test('the built binary: Ctrl+C finishes the step, writes its checkpoint and exits 0', { timeout: 180_000 }, async () => {
  // built by npm test's setup (node esbuild.mjs); not rebuilt here, where other test files run the bundle at the same time
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'cli.js')), 'dist/cli.js is built (node esbuild.mjs)');
  const file = out('interrupted.safetensors');
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'train', '--corpus', poems, '--dim', '16', '--heads', '2', '--layers', '1',
    '--context-length', '16', '--batch', '2', '--steps', '100000', '--out', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const tenSteps = new Promise<void>((resolve) => child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (/step 10\//.test(stderr)) resolve();
  }));
  // a child that ends (or crashes) before ten steps fails the test instead of hanging it
  await Promise.race([tenSteps, exited.then((code) => { throw new Error(`train exited with ${code} before step 10: ${stderr}`); })]);
  child.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
  const match = /^stopped by Ctrl\+C after (\d+) of 100000 steps/.exec(stdout);
  assert.ok(match, stdout);
  const loaded = readGptCheckpoint(file);
  assert.equal(loaded.metadata['llm101.step'], match[1]);
  assert.ok(Number(match[1]) >= 10 && Number(match[1]) < 100_000);
});

test('bench --train --json: one training step timed, with the sizes asked for', async () => {
  const result = await run(['bench', '--train', '--vocab', '64', '--dim', '16', '--heads', '2', '--layers', '1', '--seq', '8', '--batch', '2', '--reps', '2', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout) as Record<string, number>;
  for (const key of ['msPerStep', 'tokensPerSecond', 'forwardMs', 'backwardMs', 'optimizerMs', 'gflops']) assert.ok(json[key]! > 0, key);
  assert.equal(json.tokensPerStep, 16);
  assert.equal(json.steps, 2);
  assert.equal(json.vocab, 64);
  const bad = await run(['bench', '--train', '--vocab', '64', '--dim', '16', '--heads', '3', '--layers', '1', '--seq', '8', '--batch', '2']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^llm101: --heads \(3\) must divide --dim \(16\)\n$/);
  const missing = await run(['bench', '--train', '--vocab', '64', '--dim', '16', '--heads', '2', '--seq', '8', '--batch', '2']);
  assert.match(missing.stderr, /^llm101: --layers is required, e\.g\. llm101 bench --train /);
  const layerOnly = await run(['bench', '--seq', '8', '--dim', '16', '--heads', '2', '--batch', '2']);
  assert.match(layerOnly.stderr, /^llm101: --batch belongs to the training bench: add --train\n$/);
});
