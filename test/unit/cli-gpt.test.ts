// `llm101 analyze --weights / --layers` and `llm101 generate`, in-process through runCli (and the
// built binary for Ctrl+C): torch's logits and block numbers from the fixtures' checkpoints, the
// seeded model, generation equal to the engine's and torch's, every bad input exits 2 with one line.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli, type CliIo } from '../../src/cli';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { generate } from '../../src/engine/gpt/generate';
import { gptToTensors, readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { writeSafetensors } from '../../src/engine/io/safetensors';
import { gptForward } from '../../src/engine/layers/gptModel';
import { createTokenizer } from '../../src/engine/tokenizer';
import { assertClose } from './assertClose';
import { GPT_FIXTURES, loadBookCase, readJson, readTensors, ref } from './gpt-fixtures';
import { textOfIds, writeWordCorpus } from './wordVocab';

const ROOT = path.join(__dirname, '..', '..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-cli-gpt-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], extra: Partial<CliIo> = {}): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    ...extra,
  });
  return { code, stdout, stderr };
}

type Rows = number[][];
interface ModelJson {
  config: Record<string, unknown>;
  blocks: { attentionWeights: Rows[]; output: Rows }[];
  finalNorm: Rows;
  logits: Rows;
}
interface TraceJson {
  tokens: { id: number }[];
  multiHead: { heads: { weights: Rows }[] };
  layerNorm: { output: Rows };
  model?: ModelJson;
}

async function runJson<T = TraceJson>(args: string[]): Promise<T> {
  const result = await run([...args, '--json']);
  assert.equal(result.stderr, '', result.stderr);
  assert.equal(result.code, 0);
  assert.ok(result.stdout.indexOf('\n') === result.stdout.length - 1, 'exactly one JSON line');
  return JSON.parse(result.stdout) as T;
}

async function expectUsageError(args: string[], pattern: RegExp): Promise<void> {
  const { code, stdout, stderr } = await run(args);
  assert.equal(code, 2, `${args.join(' ')} → exit ${code}: ${stderr}`);
  assert.equal(stdout, '');
  assert.match(stderr, /^llm101: [^\n]+\n$/, `one line: ${JSON.stringify(stderr)}`);
  assert.match(stderr, pattern);
}

/** The flags that make the word tokenizer give a fixture's ids with its vocabulary of V. */
const wordFlags = (ids: readonly number[], V: number) => ['--tokenizer', 'word', '--corpus', writeWordCorpus(scratch, V), '--text', textOfIds(ids, V)];

/** Every head's map a causal softmax: rows sum to 1, 0 above the diagonal. */
function assertCausalMaps(maps: Rows[], T: number): void {
  for (const map of maps) {
    assert.equal(map.length, T);
    map.forEach((row, r) => {
      assert.equal(row.length, T);
      assert.ok(row.slice(r + 1).every((w) => w === 0), `row ${r} is 0 above the diagonal`);
      assertClose(row.reduce((a, b) => a + b, 0), 1, { atol: 1e-5, label: `row ${r} sum` });
    });
  }
}

for (const folder of ['gpt2-tiny', 'gpt2-prefixed-f16'] as const) {
  test(`analyze --weights ${folder} (folder and file): the model section has torch's logits`, async () => {
    const dir = path.join(GPT_FIXTURES, folder);
    const { ids } = readJson<{ ids: number[] }>(path.join(dir, 'case.json'));
    const torchLogits = ref(readTensors(path.join(dir, 'reference.safetensors')), 'logits');
    const heads = folder === 'gpt2-tiny' ? 4 : 2;
    for (const weights of [dir, path.join(dir, 'model.safetensors')]) {
      const started = performance.now();
      const json = await runJson(['analyze', '--weights', weights, ...wordFlags(ids, 80)]);
      const ms = performance.now() - started;
      assert.deepEqual(json.tokens.map((t) => t.id), ids);
      const model = json.model!;
      assert.deepEqual(model.config, { vocabSize: 80, dim: 32, heads, layers: 2, contextLength: 16, qkvBias: true });
      const diff = assertClose(model.logits, torchLogits, { atol: 1e-4, label: `${folder} logits` });
      console.log(`analyze --weights ${path.relative(GPT_FIXTURES, weights)}: logits max abs diff ${diff.toExponential(2)} (${ms.toFixed(0)} ms)`);
      assert.equal(model.blocks.length, 2);
      for (const block of model.blocks) {
        assert.equal(block.attentionWeights.length, heads);
        assertCausalMaps(block.attentionWeights, ids.length);
        assert.equal(block.output.length, ids.length);
        assert.equal(block.output[0]!.length, 32);
      }
      assert.equal(model.finalNorm.length, ids.length);
    }
  });
}

test("analyze --weights on the book's layout: every block's maps and output, final norm and logits are torch's; the stages are block 0", async () => {
  const c = loadBookCase('book-small');
  const json = await runJson(['analyze', '--weights', path.join(c.folder, 'weights.safetensors'), '--heads', '4', '--dropout', '0', ...wordFlags(c.ids, c.config.vocabSize)]);
  const model = json.model!;
  const r = c.reference;
  const diffs: Record<string, number> = {};
  for (const layer of [0, 1]) {
    diffs[`blocks.${layer}.attnWeights`] = assertClose(model.blocks[layer]!.attentionWeights, ref(r, `blocks.${layer}.attnWeights`), { atol: 1e-6, label: `block ${layer} maps` });
    diffs[`blocks.${layer}.output`] = assertClose(model.blocks[layer]!.output, ref(r, `blocks.${layer}.output`), { atol: 1e-5, label: `block ${layer} output` });
  }
  diffs.finalNorm = assertClose(model.finalNorm, ref(r, 'finalNorm'), { atol: 1e-5, label: 'final norm' });
  diffs.logits = assertClose(model.logits, ref(r, 'logits'), { atol: 1e-4, label: 'logits' });
  diffs.stageHeads = assertClose(json.multiHead.heads.map((h) => h.weights), ref(r, 'blocks.0.attnWeights'), { atol: 1e-6, label: 'multi-head stage' });
  diffs.stageNorm = assertClose(json.layerNorm.output, ref(r, 'blocks.0.norm2'), { atol: 1e-5, label: 'layer-norm stage' });
  console.log('analyze --weights book-small vs torch, max abs diff:', JSON.stringify(diffs));
});

test('analyze --layers N builds the seeded model (torch.manual_seed + GPTModel); without --layers or --weights there is no model section', async () => {
  const text = 'the sea and the tide and the sea again';
  const flags = ['--text', text, '--dim', '8', '--heads', '2', '--context-length', '32', '--seed', '9', '--qkv-bias'];
  const json = await runJson(['analyze', '--layers', '3', ...flags]);
  const model = json.model!;
  const vocabSize = model.config.vocabSize as number;
  assert.deepEqual(model.config, { vocabSize, dim: 8, heads: 2, layers: 3, contextLength: 32, qkvBias: true });
  const seeded = createSeededGpt({ vocabSize, dim: 8, heads: 2, layers: 3, contextLength: 32, qkvBias: true, layerNormEps: 1e-5 }, 9);
  const expected = gptForward(seeded, json.tokens.map((t) => t.id)).logits!;
  // the JSON's shortest decimals read back as the same float32s
  assertClose(model.logits.map((row) => row.map(Math.fround)), expected, { atol: 0, label: 'seeded logits, bit for bit' });
  assert.equal(model.blocks.length, 3);
  const without = await runJson(['analyze', ...flags]);
  assert.equal(without.model, undefined, "today's output as it was");

  const summary = await run(['analyze', '--layers', '3', ...flags]);
  assert.equal(summary.code, 0, summary.stderr);
  assert.match(summary.stdout, /Model \(seeded 9 \(untrained\)\): 3 layers · dim 8 · 2 heads · context 32 · vocabulary \d+ · qkv bias · [\d,]+ parameters/);
  assert.match(summary.stdout, /Next token after "again" \(the last position\), top 5\n(  \d+ +"[^"]*" +0\.\d{4}\n){5}/);
  assert.doesNotMatch((await run(['analyze', ...flags])).stdout, /Model \(/);
});

test("generate --json: greedy and sampled ids are the engine's generate and torch's; without --json the text streams", async () => {
  const c = loadBookCase('book-small');
  const V = c.config.vocabSize;
  const weights = path.join(c.folder, 'weights.safetensors');
  const base = ['generate', '--weights', weights, '--heads', '4', ...wordFlags(c.prompt, V)];
  const model = readGptCheckpoint(weights, { heads: 4 }).model;
  const greedy = await runJson<{ prompt: number[]; generated: number[]; text: string; reason: string }>([...base, '--max-new-tokens', String(c.greedy.length)]);
  assert.deepEqual(greedy.prompt, c.prompt);
  assert.deepEqual(greedy.generated, generate(model, c.prompt, { maxNewTokens: c.greedy.length, temperature: 0 }), "the engine's generate");
  assert.deepEqual(greedy.generated, c.greedy, "torch's");
  assert.equal(greedy.reason, 'length');
  const tokenizer = createTokenizer({ kind: 'word', corpus: fs.readFileSync(writeWordCorpus(scratch, V), 'utf8') });
  assert.equal(greedy.text, tokenizer.decode(c.greedy));
  for (const sampled of c.sampled) {
    const args = [...base, '--max-new-tokens', String(sampled.ids.length), '--temperature', String(sampled.temperature), '--seed', String(sampled.seed)];
    if (sampled.topK !== undefined) args.push('--top-k', String(sampled.topK));
    const json = await runJson<{ generated: number[] }>(args);
    assert.deepEqual(json.generated, sampled.ids, `torch's draws at seed ${sampled.seed}, temperature ${sampled.temperature}`);
  }
  const chunks: string[] = [];
  const streamed = await run([...base, '--max-new-tokens', '6'], { stdout: { write: (text: string) => chunks.push(text) } });
  assert.equal(streamed.code, 0, streamed.stderr);
  assert.equal(chunks.join(''), `${tokenizer.decode(c.greedy.slice(0, 6))}\n`);
  assert.ok(chunks.length >= 6, `one write per token (${chunks.length})`);

  const seeded = await runJson<{ prompt: number[]; generated: number[] }>(['generate', '--layers', '1', '--dim', '8', '--heads', '2', '--text', 'the sea', '--max-new-tokens', '3']);
  assert.equal(seeded.generated.length, 3);
});

test('generate stops cleanly on Ctrl+C: the tokens so far, one line on stderr, exit 130', async () => {
  let stop: (() => void) | undefined;
  let listening = false;
  let stdout = '';
  const result = await run(['generate', '--layers', '1', '--dim', '8', '--heads', '2', '--text', 'the sea', '--max-new-tokens', '50'], {
    stdout: { write: (text: string) => { stdout += text; stop?.(); } }, // Ctrl+C as the first token arrives
    onInterrupt: (handler) => {
      stop = handler;
      listening = true;
      return () => (listening = false);
    },
  });
  assert.equal(result.code, 130);
  assert.equal(result.stderr, 'llm101: stopped after 1 token (Ctrl+C)\n');
  assert.equal(stdout.trim().split(' ').length, 1, JSON.stringify(stdout));
  assert.equal(listening, false, 'Ctrl+C has its default again afterwards');
});

test('the built binary: SIGINT during generate ends it with the text so far and exit 130', { timeout: 180_000 }, async () => {
  // built by npm test's setup (node esbuild.mjs); not rebuilt here, where other test files run the bundle at the same time
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'cli.js')), 'dist/cli.js is built (node esbuild.mjs)');
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'generate', '--layers', '4', '--dim', '64', '--heads', '4',
    '--text', 'the sea', '--max-new-tokens', '2000', '--context-length', '4096'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const firstOutput = new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    resolve();
  }));
  // a child that ends (or crashes) before printing fails the test instead of hanging it
  await Promise.race([firstOutput, exited.then((code) => { throw new Error(`generate exited with ${code} before any output: ${stderr}`); })]);
  child.kill('SIGINT');
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, /^llm101: stopped after \d+ tokens? \(Ctrl\+C\)\n$/);
  assert.ok(stdout.endsWith('\n') && stdout.trim().length > 0);
});

test('bad inputs: exit 2 and one line that says what to change', async () => {
  const c = loadBookCase('book-small');
  const weights = path.join(c.folder, 'weights.safetensors');
  const words = wordFlags(c.ids, c.config.vocabSize);
  const gen = ['generate', '--layers', '1', '--dim', '8', '--heads', '2', '--text', 'the sea'];
  await expectUsageError([...gen, '--temperature', '-0.5'], /^llm101: temperature must be 0 \(greedy\) or above, got -0\.5\n$/);
  await expectUsageError([...gen, '--max-new-tokens', '0'], /^llm101: max new tokens must be a whole number of at least 1, got 0\n$/);
  await expectUsageError([...gen, '--max-new-tokens', '-3'], /got -3/);
  await expectUsageError([...gen, '--top-k', '0'], /^llm101: top-k must be a whole number of at least 1, got 0\n$/);
  await expectUsageError([...gen, '--temperature', 'hot'], /--temperature takes a number, got "hot"/);
  for (const command of ['analyze', 'generate']) {
    await expectUsageError([command, '--text', 'the sea', '--layers', '0'], /^llm101: layers must be a whole number from 1 to 48, got 0 \(--layers\)\n$/);
    await expectUsageError([command, '--text', 'the sea', '--layers', '49'], /layers must be a whole number from 1 to 48, got 49/);
    await expectUsageError([command, '--weights', weights, '--layers', '2', ...words], /--layers sets the blocks of a seeded model; checkpoint .*weights\.safetensors has its own, so drop --layers/);
    await expectUsageError([command, '--weights', weights, ...words], /heads \(7\) must divide dim \(32\); valid head counts: 1, 2, 4, 8, 16, 32 \(--heads\)/);
    await expectUsageError([command, '--weights', path.join(GPT_FIXTURES, 'gpt2-tiny'), '--text', 'the sea'],
      /the gpt2 tokenizer has a vocabulary of 50257 but the model's is 80; use the tokenizer the model was trained with \(--tokenizer\)/);
    await expectUsageError([command, '--weights', weights, '--heads', '4', '--dim', '16', ...words], /--dim 16 disagrees with checkpoint .*, whose dim is 32; drop --dim/);
    await expectUsageError([command, '--weights', scratch, '--text', 'the sea'], /folder .* has no model\.safetensors/);
    await expectUsageError([command, '--layers', '2', '--dim', '8', '--heads', '3', '--text', 'the sea'], /heads \(3\) must divide dim \(8\); valid head counts: 1, 2, 4, 8 \(--heads\)/);
  }
  await expectUsageError(['analyze', '--example', 'journey', '--layers', '2'], /drop --layers/);
  // a checkpoint missing a tensor: the reader's message, naming it
  const tensors = gptToTensors(readGptCheckpoint(weights, { heads: 4 }).model.weights);
  tensors.delete('final_norm.shift');
  const broken = path.join(scratch, 'broken.safetensors');
  fs.writeFileSync(broken, writeSafetensors(tensors, { heads: '4' }));
  await expectUsageError(['analyze', '--weights', broken, ...words], /checkpoint .*broken\.safetensors: .*final_norm\.shift/);
  await expectUsageError(['generate', '--weights', broken, ...words], /final_norm\.shift/);
});
