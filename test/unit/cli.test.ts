// The `llm101` CLI, in-process through runCli (and once as the built binary): the JSON trace has
// every documented key with the right shapes, the book example works, and every user error exits
// with code 2 and one line on stderr that says what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { runCli } from '../../src/cli';
import { writeJson } from '../../src/engine/serialize';
import { readSafetensors, writeSafetensors } from '../../src/engine/io/safetensors';
import { assertClose } from './assertClose';
import { loadBookCase, ref } from './gpt-fixtures';
import { textOfIds, writeWordCorpus } from './wordVocab';

const ROOT = path.join(__dirname, '..', '..');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], stdin?: string): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    ...(stdin !== undefined && { stdin: Readable.from([Buffer.from(stdin)]) }),
  });
  return { code, stdout, stderr };
}

async function runJson(args: string[], stdin?: string): Promise<TraceJson> {
  const result = await run([...args, '--json'], stdin);
  assert.equal(result.stderr, '', result.stderr);
  assert.equal(result.code, 0);
  assert.ok(result.stdout.endsWith('\n') && result.stdout.indexOf('\n') === result.stdout.length - 1, 'exactly one JSON line');
  return JSON.parse(result.stdout) as TraceJson;
}

type Rows = (number | null)[][];
interface TraceJson {
  config: Record<string, unknown>;
  tokens: { text: string; id: number; start: number; end: number }[];
  embeddings: Record<string, Rows>;
  simple: Record<string, Rows>;
  selfAttention: Record<string, Rows>;
  causal: Record<string, Rows>;
  multiHead: { heads: Record<string, Rows>[]; concat: Rows; output: Rows };
  layerNorm: Record<string, Rows | number[]>;
}

/** The keys the JSON documents (src/engine/serialize.ts TraceJson), with each matrix's columns ('T' = one per token). */
function expectedShapes(dim: number, attnDim: number, headDim: number) {
  return {
    embeddings: { token: dim, position: dim, input: dim },
    simple: { scores: 'T', weights: 'T', context: dim },
    selfAttention: { queries: attnDim, keys: attnDim, values: attnDim, scores: 'T', weights: 'T', context: attnDim },
    causal: { maskedScores: 'T', weights: 'T', droppedWeights: 'T', context: attnDim },
    head: { queries: headDim, keys: headDim, values: headDim, scores: 'T', weights: 'T', droppedWeights: 'T', context: headDim },
    multiHead: { concat: attnDim, output: attnDim },
    layerNorm: { input: attnDim, output: attnDim },
  } as const;
}

function assertMatrix(value: unknown, rows: number, cols: number, label: string, allowNull = false): void {
  assert.ok(Array.isArray(value), `${label} is an array`);
  assert.equal(value.length, rows, `${label}: ${rows} rows`);
  for (const row of value as unknown[]) {
    assert.ok(Array.isArray(row) && row.length === cols, `${label}: rows of ${cols}`);
    for (const x of row as unknown[]) {
      if (x === null && allowNull) continue;
      assert.ok(typeof x === 'number' && Number.isFinite(x), `${label}: ${String(x)} is a finite number`);
    }
  }
}

function assertTraceShape(json: TraceJson, text: string | undefined, heads: number): void {
  const T = json.tokens.length;
  assert.ok(T > 0);
  const { dim, attnDim, headDim } = json.config as { dim: number; attnDim: number; headDim: number };
  for (const key of ['tokenizer', 'vocabSize', 'dim', 'attnDim', 'heads', 'headDim', 'dropout', 'seed', 'contextLength']) {
    assert.ok(key in json.config, `config.${key}`);
  }
  assert.equal(json.config.heads, heads);
  assert.equal(headDim * heads, attnDim);
  for (const token of json.tokens) {
    assert.deepEqual(Object.keys(token).sort(), ['end', 'id', 'start', 'text']);
    if (text !== undefined) assert.equal(token.text, text.slice(token.start, token.end));
  }
  const shapes = expectedShapes(dim, attnDim, headDim);
  const cols = (c: number | 'T') => (c === 'T' ? T : c);
  for (const stage of ['embeddings', 'simple', 'selfAttention', 'causal'] as const) {
    for (const [key, c] of Object.entries(shapes[stage])) {
      assertMatrix(json[stage][key], T, cols(c), `${stage}.${key}`, stage === 'causal' && key === 'maskedScores');
    }
  }
  assert.equal(json.multiHead.heads.length, heads);
  json.multiHead.heads.forEach((head, h) => {
    for (const [key, c] of Object.entries(shapes.head)) assertMatrix(head[key as keyof typeof head], T, cols(c), `multiHead.heads.${h}.${key}`, key === 'scores');
  });
  for (const [key, c] of Object.entries(shapes.multiHead)) assertMatrix(json.multiHead[key as 'concat'], T, c, `multiHead.${key}`);
  for (const [key, c] of Object.entries(shapes.layerNorm)) assertMatrix(json.layerNorm[key], T, c, `layerNorm.${key}`);
  for (const key of ['mean', 'variance', 'outputMean', 'outputVariance']) {
    const v = json.layerNorm[key] as unknown[];
    assert.ok(Array.isArray(v) && v.length === T && v.every((x) => typeof x === 'number' && Number.isFinite(x)), `layerNorm.${key}`);
  }
  // maskedScores: null exactly above the diagonal; causal weights 0 there.
  json.causal.maskedScores!.forEach((row, i) =>
    row.forEach((x, j) => assert.equal(x === null, j > i, `maskedScores[${i}][${j}] = ${String(x)}`)),
  );
  json.causal.weights!.forEach((row, i) => row.forEach((x, j) => j > i && assert.equal(x, 0)));
}

const SAMPLE = 'Hello, do you like tea? In the sunlit terraces of the palace.';

// ----------------------------------------------------------------------------- JSON writer

test('writeJson writes exactly what JSON.stringify gives, in chunks', () => {
  const values: unknown[] = [
    { a: [[1, 2.5, null], [-0, 1e-7, 3]], b: 'x"y\n', c: undefined, d: { e: [] }, f: [{ g: true }, []], h: null },
    [],
    {},
    'text',
    42,
    [[[1]], [[2, 3]]],
  ];
  for (const value of values) {
    const chunks: string[] = [];
    writeJson(value, (chunk) => chunks.push(chunk));
    assert.equal(chunks.join(''), JSON.stringify(value));
  }
  // A large value arrives in several chunks of about 1 MB.
  const big = { rows: Array.from({ length: 500 }, (_, i) => Array.from({ length: 500 }, (_, j) => i * 1000 + j + 0.125)) };
  const chunks: string[] = [];
  writeJson(big, (chunk) => chunks.push(chunk));
  assert.ok(chunks.length > 1);
  assert.equal(chunks.join(''), JSON.stringify(big));
});

// ----------------------------------------------------------------------------- help and version

test('--help, <cmd> --help, help <cmd> and --version print to stdout and exit 0', async () => {
  const main = await run(['--help']);
  assert.equal(main.code, 0);
  assert.match(main.stdout, /Usage: llm101 <command>/);
  assert.match(main.stdout, /analyze/);
  assert.match(main.stdout, /tokenize/);
  assert.equal((await run([])).stdout, main.stdout);

  const analyzeHelp = await run(['analyze', '--help']);
  assert.equal(analyzeHelp.code, 0);
  for (const flag of ['--text', '--file', '--example', '--tokenizer', '--corpus', '--vocab-size', '--dim', '--heads', '--dropout', '--seed', '--context-length', '--qkv-bias', '--weights', '--save-weights', '--json']) {
    assert.ok(analyzeHelp.stdout.includes(flag), `analyze --help lists ${flag}`);
  }
  assert.equal((await run(['help', 'analyze'])).stdout, analyzeHelp.stdout);
  assert.match((await run(['tokenize', '-h'])).stdout, /Usage: llm101 tokenize/);

  const version = await run(['--version']);
  assert.equal(version.code, 0);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(version.stdout, `${pkg.version}\n`);
});

// ----------------------------------------------------------------------------- analyze --json

test('analyze --json prints one trace with every documented key and shape, no NaN or Infinity', async () => {
  const json = await runJson(['analyze', '--text', SAMPLE]);
  assert.equal(json.tokens.length, 15);
  assert.deepEqual(json.config, {
    stages: 'block 1',
    tokenizer: 'word',
    vocabSize: json.config.vocabSize,
    dim: 28,
    attnDim: 28,
    heads: 7,
    headDim: 4,
    dropout: 0.4,
    seed: 123,
    contextLength: 2048,
    qkvBias: false,
  });
  assertTraceShape(json, SAMPLE, 7);
});

test('analyze --json with other sizes, qkv bias, bpe and gpt2 tokenizers', async () => {
  const json = await runJson(['analyze', '--text', SAMPLE, '--dim', '10', '--heads', '5', '--qkv-bias', '--dropout', '0', '--context-length', '40']);
  assert.equal(json.config.attnDim, 10, 'block 1 attends with the model’s width');
  assert.equal(json.config.headDim, 2);
  assertTraceShape(json, SAMPLE, 5);
  // dropout 0 keeps every weight: after dropout they are softmax(maskedScores / √attnDim), computed
  // here (comparing with causal.weights would compare the array p = 0 passes through with itself)
  const softmax = (json.causal.maskedScores as (number | null)[][]).map((row) => {
    const scaled = row.map((s) => (s === null ? -Infinity : s / Math.sqrt(10)));
    const top = Math.max(...scaled);
    const exps = scaled.map((x) => Math.exp(x - top));
    const sum = exps.reduce((x, y) => x + y, 0);
    return exps.map((e) => e / sum);
  });
  assertClose(json.causal.droppedWeights as number[][], softmax, { atol: 1e-6, label: 'causal.droppedWeights at dropout 0' });

  const bpe = await runJson(['analyze', '--text', 'Naïve café — 你好 🙂', '--tokenizer', 'bpe', '--vocab-size', '300', '--heads', '4']);
  assert.equal(bpe.config.vocabSize, 300);
  assertTraceShape(bpe, undefined, 4);

  const gpt2 = await runJson(['analyze', '--text', 'Hello, world <|endoftext|> again', '--tokenizer', 'gpt2', '--dim', '8', '--heads', '2', '--context-length', '16']);
  assert.equal(gpt2.config.vocabSize, 50257);
  assert.ok(gpt2.tokens.some((t) => t.id === 50256));
  assertTraceShape(gpt2, 'Hello, world <|endoftext|> again', 2);
});

test('T = 1 and T = contextLength both work', async () => {
  assertTraceShape(await runJson(['analyze', '--text', 'tea']), 'tea', 7);
  const full = await runJson(['analyze', '--text', 'one two three four', '--context-length', '4']);
  assert.equal(full.tokens.length, 4);
  assertTraceShape(full, 'one two three four', 7);
});

test('the same flags give byte-identical output; another seed gives other numbers', async () => {
  const a = await run(['analyze', '--text', SAMPLE, '--json']);
  const b = await run(['analyze', '--text', SAMPLE, '--json']);
  const c = await run(['analyze', '--text', SAMPLE, '--json', '--seed', '7']);
  assert.equal(a.stdout, b.stdout);
  assert.notEqual(a.stdout, c.stdout);
});

test('--example journey reproduces the book chapter 3 tensors', async () => {
  const json = await runJson(['analyze', '--example', 'journey']);
  assert.deepEqual(
    json.tokens.map((t) => t.text),
    ['Your', 'journey', 'starts', 'with', 'one', 'step'],
  );
  assert.equal(json.config.dim, 3);
  assert.equal(json.config.dropout, 0);
  assertTraceShape(json, 'Your journey starts with one step', 2);
  // Book section 3.6.2: context_vecs[0][0] of MultiHeadAttention(3, 2, 6, 0.0, num_heads=2).
  assertClose(json.multiHead.output[0] as number[], [0.319, 0.4858], { atol: 5e-5, label: 'multi-head output row 0' });
  // Book section 3.5.2: dropout(0.5) of the causal weights after torch.manual_seed(123) is
  // exactly 0 or twice the weight.
  const dropped = await runJson(['analyze', '--example', 'journey', '--dropout', '0.5', '--seed', '123']);
  dropped.causal.droppedWeights!.forEach((row, i) =>
    row.forEach((x, j) => {
      const w = dropped.causal.weights![i]![j] as number;
      if (x !== 0) assertClose(x as number, 2 * w, { atol: 1e-6, label: `droppedWeights[${i}][${j}]` });
    }),
  );
});

test('analyze without --json prints a readable summary', async () => {
  const { code, stdout, stderr } = await run(['analyze', '--text', SAMPLE]);
  assert.equal(code, 0);
  assert.equal(stderr, '');
  assert.match(stdout, /word tokenizer \(vocabulary \d+\) · dim 28 · attnDim 28 · 7 heads × 4 · dropout 0\.4 · seed 123/);
  assert.match(stdout, /Tokens \(15\)/);
  assert.match(stdout, /"sunlit" +\[31, 37\) +"<\|unk\|>"/);
  assert.match(stdout, /self-attention +queries, keys, values \(15, 28\) · weights \(15, 15\)/);
  assert.match(stdout, /multi-head +7 heads × context \(15, 4\)/);
  assert.match(stdout, /"Hello" +→ +"Hello" +1\.0000/);
  assert.match(stdout, /variance +\d\.\d{4} →  (0\.99\d\d|1\.0000)/);
  assert.doesNotMatch(stdout, /NaN|Infinity/);
});

test('input from --file and from standard input (-)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-cli-'));
  try {
    const file = path.join(dir, 'in.txt');
    fs.writeFileSync(file, SAMPLE);
    const fromText = await run(['analyze', '--text', SAMPLE, '--json']);
    assert.equal((await run(['analyze', '--file', file, '--json'])).stdout, fromText.stdout);
    assert.equal((await run(['analyze', '-', '--json'], SAMPLE)).stdout, fromText.stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ----------------------------------------------------------------------------- tokenize

test('tokenize --json lists id, text, start and end; without --json a readable table', async () => {
  const text = 'Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace.';
  const result = await run(['tokenize', '--text', text, '--json']);
  assert.equal(result.code, 0);
  const json = JSON.parse(result.stdout) as { tokenizer: string; vocabSize: number; tokens: TraceJson['tokens'] };
  assert.equal(json.tokenizer, 'word');
  assert.equal(json.tokens.length, 16);
  for (const t of json.tokens) assert.equal(t.text, text.slice(t.start, t.end));

  const gpt2 = JSON.parse((await run(['tokenize', '--text', 'Akwirw ier', '--tokenizer', 'gpt2', '--json'])).stdout) as typeof json;
  assert.deepEqual(gpt2.tokens.map((t) => t.id), [33901, 86, 343, 86, 220, 959]);

  const listing = await run(['tokenize', '--text', 'tea, please']);
  assert.equal(listing.code, 0);
  assert.match(listing.stdout, /^3 tokens · word tokenizer/);
  assert.match(listing.stdout, /"please" +\[5, 11\)/);
});

test('tokenize trains bpe on a given corpus', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-cli-'));
  try {
    const corpus = path.join(dir, 'corpus.txt');
    fs.writeFileSync(corpus, 'aaabdaaabac');
    const json = JSON.parse((await run(['tokenize', '--text', 'aaabdaaabac', '--tokenizer', 'bpe', '--corpus', corpus, '--vocab-size', '259', '--json'])).stdout) as {
      tokens: { id: number }[];
    };
    assert.deepEqual(json.tokens.map((t) => t.id), [258, 100, 258, 97, 99]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ----------------------------------------------------------------------------- weights files

test('--save-weights writes the model, and --weights with it reproduces the same stages', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-cli-'));
  try {
    const file = path.join(dir, 'w.safetensors');
    const seeded = await runJson(['analyze', '--text', SAMPLE, '--dim', '8', '--heads', '2', '--qkv-bias', '--save-weights', file]);
    const tensors = readSafetensors(fs.readFileSync(file)).tensors;
    assert.deepEqual(tensors.get('tok_emb.weight')?.shape, [seeded.config.vocabSize, 8]);
    assert.ok(tensors.has('trf_blocks.0.att.W_value.bias') && tensors.has('trf_blocks.1.ff.layers.2.weight'), 'the book’s GPTModel names');
    // sizes, heads and the qkv bias come from the file; the dropout masks from the same seed
    const loaded = await runJson(['analyze', '--text', SAMPLE, '--weights', file]);
    for (const key of ['config', 'embeddings', 'selfAttention', 'causal', 'multiHead', 'layerNorm'] as const) assert.deepEqual(loaded[key], seeded[key], key);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a checkpoint PyTorch wrote gives PyTorch's block 1 through the CLI", async () => {
  const c = loadBookCase('book-small');
  const V = c.config.vocabSize;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-cli-'));
  try {
    const json = await runJson([
      'analyze', '--text', textOfIds(c.ids, V), '--corpus', writeWordCorpus(dir, V),
      '--weights', path.join(c.folder, 'weights.safetensors'), '--heads', String(c.config.heads), '--dropout', '0',
    ]);
    assert.deepEqual(json.tokens.map((t) => t.id), c.ids);
    const rows = (value: unknown) => value as number[][];
    assertClose(rows(json.embeddings.input), ref(c.reference, 'embeddings'), { atol: 1e-6, label: 'embeddings' });
    assertClose(json.multiHead.heads.flatMap((h) => rows(h.weights)), ref(c.reference, 'blocks.0.attnWeights'), { atol: 1e-6, label: 'head weights' });
    assertClose(rows(json.layerNorm.input), ref(c.reference, 'blocks.0.afterAttention'), { atol: 1e-5, label: 'x + MHA(LN₁(x))' });
    assertClose(rows(json.layerNorm.output), ref(c.reference, 'blocks.0.norm2'), { atol: 1e-5, label: 'LN₂' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ----------------------------------------------------------------------------- errors

/** Runs and checks: exit 2, nothing on stdout, exactly one line on stderr matching `pattern`. */
async function expectUsageError(args: string[], pattern: RegExp, stdin?: string): Promise<string> {
  const { code, stdout, stderr } = await run(args, stdin);
  assert.equal(code, 2, `${args.join(' ')} → exit ${code}: ${stderr}`);
  assert.equal(stdout, '');
  assert.match(stderr, /^llm101: [^\n]+\n$/, `one line: ${JSON.stringify(stderr)}`);
  assert.doesNotMatch(stderr, /\bat .*:\d+:\d+/, 'no stack trace');
  assert.match(stderr, pattern);
  return stderr;
}

test('command-line mistakes: unknown flag, command, value and stray arguments', async () => {
  await expectUsageError(['analyze', '--text', 'hi', '--frobnicate'], /unknown option --frobnicate for llm101 analyze \(run "llm101 analyze --help" for the options\)/);
  await expectUsageError(['analyze', '--text', 'hi', '--hedas', '4'], /unknown option --hedas .*did you mean --heads\?/);
  await expectUsageError(['tokenize', '--text', 'hi', '--heads', '2'], /unknown option --heads for llm101 tokenize/);
  await expectUsageError(['analyse', '--text', 'hi'], /unknown command "analyse"; did you mean analyze\?/);
  await expectUsageError(['analyze', '--text', 'hi', '--dim'], /--dim needs a value, e.g\. --dim 28/);
  await expectUsageError(['analyze', '--text', 'hi', '--json=yes'], /--json is a switch and takes no value/);
  await expectUsageError(['analyze', '--text', 'hi', 'there'], /unexpected argument "there" .* --text "\.\.\." \(quote it\)/);
  await expectUsageError(['analyze', '--text', 'hi', '--dim', 'big'], /--dim takes a whole number, got "big"/);
  await expectUsageError(['analyze', '--text', 'hi', '--text', 'again'], /--text is given twice; give it once/);
  await expectUsageError(['analyze', '--tokenizer', 'bert', '--text', 'hi'], /unknown tokenizer "bert"; use --tokenizer word \| bpe \| gpt2/);
  await expectUsageError(['analyze', '--text', 'hi', '--vocab-size', '300'], /--vocab-size sets the size of the bpe vocabulary; .* drop --vocab-size or add --tokenizer bpe/);
  await expectUsageError(['analyze', '--example', 'journey', '--text', 'hi'], /--example journey brings its own input and weights; drop --text/);
  await expectUsageError(['analyze', '--example', 'odyssey'], /unknown example "odyssey"; use --example journey/);
});

test('input problems: none, two, empty, no tokens, too many tokens, unreadable file', async () => {
  await expectUsageError(['analyze'], /no input; give --text "\.\.\.", --file PATH or - \(standard input\)/);
  await expectUsageError(['analyze', '--text', 'a', '-'], /give only one input, not --text and -/, 'b');
  await expectUsageError(['analyze', '--text', ''], /the text is empty; give some words/);
  await expectUsageError(['tokenize', '-'], /the text is empty/, '');
  await expectUsageError(['analyze', '--text', '  \n\t '], /the word tokenizer finds no tokens in .*; give it some words \(select text in the editor, or --text on the command line\)/);
  await expectUsageError(['analyze', '--file', '/no/such/input.txt'], /cannot read --file \/no\/such\/input\.txt: no such file/);
  await expectUsageError(['analyze', '--text', 'hi', '--corpus', '/no/such/corpus'], /corpus path \/no\/such\/corpus does not exist/);
});

test('more tokens than the context length: not refused, the last context-length tokens are analyzed (the window)', async () => {
  const result = await run(['analyze', '--text', 'one two three four five', '--context-length', '4', '--heads', '2', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout) as { window: unknown; tokens: { text: string; start: number }[] };
  assert.deepEqual(json.window, { from: 1, to: 5, of: 5 });
  assert.deepEqual(json.tokens.map((t) => [t.text, t.start]), [['two', 4], ['three', 8], ['four', 14], ['five', 19]]);
});

test('model settings: heads not dividing dim, dropout outside [0, 1), non-positive sizes', async () => {
  await expectUsageError(['analyze', '--text', 'hi', '--heads', '5'], /heads \(5\) must divide dim \(28\); valid head counts: 1, 2, 4, 7, 14, 28 \(--heads\)/);
  await expectUsageError(['analyze', '--text', 'hi', '--dim', '9'], /heads \(7\) must divide dim \(9\); valid head counts: 1, 3, 9 \(--heads\)/);
  await expectUsageError(['analyze', '--text', 'hi', '--dropout', '1'], /dropout must be at least 0 and below 1 \(e\.g\. 0\.4\), got 1/);
  await expectUsageError(['analyze', '--text', 'hi', '--dropout', '-0.1'], /dropout must be at least 0 and below 1 .*got -0\.1/);
  await expectUsageError(['analyze', '--text', 'hi', '--dropout', 'half'], /--dropout takes a number, got "half"/);
  await expectUsageError(['analyze', '--text', 'hi', '--dim', '0'], /dim must be a positive whole number, got 0/);
  await expectUsageError(['analyze', '--text', 'hi', '--seed', '-3'], /seed must be a whole number >= 0, got -3/);
});

test('--weights problems: unreadable, malformed, missing tensor, wrong shape, disagreement, an old stages file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-cli-'));
  try {
    const good = path.join(dir, 'good.safetensors');
    assert.equal((await run(['analyze', '--text', SAMPLE, '--dim', '8', '--heads', '2', '--save-weights', good, '--json'])).code, 0);
    const tensors = readSafetensors(fs.readFileSync(good)).tensors;
    const variant = (name: string, edit: (t: typeof tensors) => void): string => {
      const copy = new Map(tensors);
      edit(copy);
      const file = path.join(dir, name);
      fs.writeFileSync(file, writeSafetensors(copy, { heads: '2' }));
      return file;
    };
    const analyzeWith = (file: string, ...extra: string[]) => ['analyze', '--text', SAMPLE, '--weights', file, ...extra];

    await expectUsageError(analyzeWith(path.join(dir, 'absent.safetensors')), /cannot read checkpoint .*absent\.safetensors: no such file/);
    // a folder is a Hugging Face model's: it must hold model.safetensors
    await expectUsageError(analyzeWith(dir), /folder .* has no model\.safetensors; point the weights at a \.safetensors file or a Hugging Face model folder \(--weights\)/);
    const garbage = path.join(dir, 'garbage.safetensors');
    fs.writeFileSync(garbage, 'not weights');
    await expectUsageError(analyzeWith(garbage), /checkpoint .*garbage\.safetensors: not a safetensors file/);
    const truncated = path.join(dir, 'truncated.safetensors');
    fs.writeFileSync(truncated, fs.readFileSync(good).subarray(0, 200));
    await expectUsageError(analyzeWith(truncated), /truncated\.safetensors: the file is shorter than its header promises/);

    await expectUsageError(analyzeWith(variant('missing.safetensors', (t) => t.delete('trf_blocks.0.att.out_proj.bias'))), /missing\.safetensors.*trf_blocks\.0\.att\.out_proj\.bias/);
    await expectUsageError(
      analyzeWith(variant('shape.safetensors', (t) => t.set('trf_blocks.0.att.W_key.weight', { shape: [8, 9], data: new Float32Array(72) }))),
      /trf_blocks\.0\.att\.W_key\.weight has shape \[8, 9\]/,
    );
    await expectUsageError(analyzeWith(good, '--dim', '16'), /--dim 16 disagrees with checkpoint .*good\.safetensors, whose dim is 8; drop --dim/);
    await expectUsageError(analyzeWith(good, '--context-length', '64'), /--context-length 64 disagrees with checkpoint .*, whose contextLength is 2048; drop --context-length/);
    await expectUsageError(analyzeWith(good, '--qkv-bias'), /--qkv-bias true disagrees with checkpoint .*, whose qkvBias is false/);
    await expectUsageError(analyzeWith(good, '--tokenizer', 'gpt2'), /the gpt2 tokenizer has a vocabulary of 50257 but the model's is \d+; use the tokenizer the model was trained with \(--tokenizer\)/);
    await expectUsageError(analyzeWith(path.join(ROOT, 'test', 'fixtures', 'engine', 'default', 'weights.safetensors')), /holds the seven stages' own weights .*Use a GPT checkpoint instead/);
    await expectUsageError(['analyze', '--example', 'journey', '--save-weights', good], /--example journey brings its own input and weights; drop --save-weights/);
    await expectUsageError(['analyze', '--text', SAMPLE, '--save-weights', path.join(dir, 'no', 'such', 'w.safetensors')], /its folder does not exist; create it first/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an internal error exits 1 with one line', async () => {
  let stderr = '';
  const code = await runCli(['analyze', '--text', 'hi'], {
    stdout: {
      write: () => {
        throw new TypeError('stdout exploded');
      },
    },
    stderr: { write: (text: string) => (stderr += text) },
  });
  assert.equal(code, 1);
  assert.equal(stderr, 'llm101: internal error in analyze: stdout exploded (please report this)\n');
});

// ----------------------------------------------------------------------------- the built binary

test('the built binary dist/cli.js runs analyze --json and reports errors with exit 2', () => {
  // built by npm test's setup (node esbuild.mjs); not rebuilt here, where other test files run the bundle at the same time
  const cli = path.join(ROOT, 'dist', 'cli.js');
  assert.ok(fs.existsSync(cli), 'dist/cli.js is built (node esbuild.mjs)');
  assert.ok(fs.readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node'), 'shebang');

  const ok = spawnSync(process.execPath, [cli, 'analyze', '--text', 'Your journey starts with one step', '--json'], {
    encoding: 'utf8',
    timeout: 60_000,
    cwd: os.tmpdir(), // the bundled corpus is found relative to the binary, not the current folder
  });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stderr, '');
  const json = JSON.parse(ok.stdout) as TraceJson;
  assertTraceShape(json, 'Your journey starts with one step', 7);

  const bad = spawnSync(process.execPath, [cli, 'analyze', '--text', 'hi', '--heads', '5'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  assert.equal(bad.stderr, 'llm101: heads (5) must divide dim (28); valid head counts: 1, 2, 4, 7, 14, 28 (--heads)\n');

  const piped = spawnSync(process.execPath, [cli, 'analyze', '-', '--dropout', '0', '--json'], {
    input: 'Your journey starts with one step',
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal((JSON.parse(piped.stdout) as TraceJson).tokens.length, 6);
});
