// `llm101 export --pytorch`: the exported project runs with Debian's torch (/usr/bin/python3,
// python3-torch): its generate.py continues a prompt greedily exactly as `llm101 generate` does
// (word and BPE checkpoints: the Python tokenizers give our ids), and one train.py step on the CPU
// writes a checkpoint `analyze --weights` loads with its tokenizer, the step carried on.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../src/cli';
import { readGptCheckpoint, writeGptCheckpoint } from '../../src/engine/io/gptCheckpoint';

const ROOT = path.join(__dirname, '..', '..');
const poems = path.join(ROOT, 'media', 'corpus');
const PYTHON = '/usr/bin/python3';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-export-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } });
  return { code, stdout, stderr };
}

function python(dir: string, args: string[]): { stdout: string; stderr: string } {
  const result = spawnSync(PYTHON, args, { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(result.status, 0, `python3 ${args.join(' ')}: ${result.stderr}`);
  return { stdout: result.stdout, stderr: result.stderr };
}

/** A small checkpoint trained on the poems (a few seconds), exported into its own folder. */
async function exported(name: string, tokenizer: string[]): Promise<{ file: string; dir: string }> {
  const file = path.join(scratch, `${name}.safetensors`);
  const trained = await run(['train', '--corpus', poems, ...tokenizer, '--dim', '32', '--heads', '4', '--layers', '2', '--context-length', '32',
    '--batch', '4', '--steps', '40', '--lr', '0.003', '--eval-every', '0', '--out', file]);
  assert.equal(trained.code, 0, trained.stderr);
  const dir = path.join(scratch, `${name}-project`);
  const result = await run(['export', '--pytorch', dir, '--weights', file]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`^wrote .*${name}-project: model\\.safetensors, model\\.py, tokenizer\\.py, generate\\.py, train\\.py, README\\.md \\(${tokenizer[1] ?? 'word'} tokenizer, step 40\\)`));
  return { file, dir };
}

for (const [name, tokenizer] of [['word', []], ['bpe', ['--tokenizer', 'bpe', '--vocab-size', '320']]] as const) {
  test(`the exported generate.py continues a prompt as llm101 generate does (${name} tokenizer)`, async () => {
    const { file, dir } = await exported(name, [...tokenizer]);
    for (const prompt of ['The sea reads the shore', 'A kitchen drawer, at night: "spoons" -- and string.']) {
      const ours = await run(['generate', '--weights', file, '--text', prompt, '--max-new-tokens', '16', '--json']);
      assert.equal(ours.code, 0, ours.stderr);
      const expected = JSON.parse(ours.stdout) as { prompt: number[]; generated: number[]; text: string };
      const theirs = JSON.parse(python(dir, ['generate.py', '--prompt', prompt, '--max-new-tokens', '16', '--json']).stdout) as typeof expected;
      assert.deepEqual(theirs.prompt, expected.prompt, 'the Python tokenizer gives our ids');
      assert.deepEqual(theirs.generated, expected.generated, 'the same greedy tokens');
      assert.equal(theirs.text, expected.text);
      // and the plain form prints what llm101 generate prints
      const plain = await run(['generate', '--weights', file, '--text', prompt, '--max-new-tokens', '16']);
      assert.equal(python(dir, ['generate.py', '--prompt', prompt, '--max-new-tokens', '16']).stdout, plain.stdout);
    }
  });
}

test('one exported training step on the CPU writes a checkpoint that analyze --weights loads', async () => {
  const { dir } = await exported('resume', []);
  const next = path.join(scratch, 'resumed.safetensors');
  const { stdout } = python(dir, ['train.py', '--corpus', poems, '--steps', '1', '--batch', '2', '--out', next]);
  assert.match(stdout, /step 41: loss [\d.]+, train loss [\d.]+, validation loss [\d.]+\nwrote .*resumed\.safetensors at step 41\n$/);
  const loaded = readGptCheckpoint(next);
  assert.equal(loaded.metadata['llm101.step'], '41');
  assert.equal(loaded.model.config.heads, 4);
  const losses = JSON.parse(loaded.metadata['llm101.losses']!) as { steps: [number, number][] };
  assert.equal(losses.steps.length, 41, 'the 40 steps before and the new one');
  const before = readGptCheckpoint(path.join(dir, 'model.safetensors')).model.weights.blocks[0]!.ff.up.weight.data;
  assert.notDeepEqual(loaded.model.weights.blocks[0]!.ff.up.weight.data, before, 'the step changed the weights');
  const analyzed = await run(['analyze', '--weights', next, '--text', 'The sea reads the shore']);
  assert.equal(analyzed.code, 0, analyzed.stderr);
  assert.match(analyzed.stdout, /^word tokenizer .* 4 heads/);
  assert.match(analyzed.stdout, /Model \(resumed\.safetensors\): 2 layers · dim 32 · 4 heads · context 32/);
});

test('export: what cannot be exported says what to do', async () => {
  const expectUsage = async (args: string[], pattern: RegExp) => {
    const result = await run(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^llm101: [^\n]+\n$/);
    assert.match(result.stderr, pattern);
  };
  await expectUsage(['export', '--weights', 'x.safetensors'], /--pytorch DIR is required/);
  await expectUsage(['export', '--pytorch', path.join(scratch, 'none')], /--weights FILE is required/);
  const file = path.join(scratch, 'plain.safetensors');
  assert.equal((await run(['train', '--corpus', poems, '--dim', '8', '--heads', '2', '--layers', '1', '--context-length', '8', '--steps', '1', '--out', file])).code, 0);
  const busy = path.join(scratch, 'busy');
  fs.mkdirSync(busy);
  fs.writeFileSync(path.join(busy, 'notes.txt'), 'mine');
  await expectUsage(['export', '--pytorch', busy, '--weights', file], /folder .*busy is not empty \(notes\.txt\); give a new or empty folder/);
  const stripped = path.join(scratch, 'no-tokenizer.safetensors');
  writeGptCheckpoint(stripped, readGptCheckpoint(file).model);
  await expectUsage(['export', '--pytorch', path.join(scratch, 'p2'), '--weights', stripped], /carries no tokenizer \(llm101\.tokenizer\)/);
  await expectUsage(['export', '--pytorch', path.join(scratch, 'p3'), '--weights', path.join(poems, '01-lighthouse-sonnet.txt')], /checkpoint/);
});
