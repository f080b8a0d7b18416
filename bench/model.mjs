// The whole GPT model, ours beside onnxruntime-node, in one run (part of `npm run bench`; alone:
// `node --import tsx bench/model.mjs` from the repository root):
//   ours   benchModel (src/engine/gpt/bench.ts) in a child process (bench/model-ours.ts): the
//          seeded model (GPT-2 small's sizes, seed 123), the forward on weights packed once, last
//          row's logits, and generation with the key/value cache after a 128-token prompt;
//   onnx   onnxruntime-node, one intra-op thread per core (as ours), on an ONNX graph of the same model built from
//          the same seeded weights (bench/onnx-gpt.mjs, opset 17), the same forward, and a cached
//          greedy decode through the same graph (each step feeds the returned keys and values back).
// They take turns for --rounds rounds (each the median of --reps forwards after one warm-up), so a
// change in the machine's load hits both alike. Prints per context length the median over rounds
// of each time and of the per-round ratios, the largest difference of onnxruntime's last-row
// logits from ours, both generation speeds, whether the greedy tokens agree, and the load average.
//
//   node --import tsx bench/model.mjs [--seqs 128,1024] [--reps 3] [--rounds 2] [--prompt 128] [--new 32] [--json FILE]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sampleIds } from '../src/engine/gpt/bench.ts';
import { GPT_CONFIG_124M } from '../src/engine/gpt/config.ts';
import { createSeededGpt } from '../src/engine/gpt/init.ts';
import { buildGptModel, causalMask } from './onnx-gpt.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const { values: args } = parseArgs({
  options: {
    seqs: { type: 'string', default: '128,1024' },
    reps: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    prompt: { type: 'string', default: '128' },
    new: { type: 'string', default: '32' },
    seed: { type: 'string', default: '123' },
    json: { type: 'string' },
  },
});
const seqs = args.seqs.split(',').map(Number);
const reps = Number(args.reps);
const rounds = Number(args.rounds);
const promptTokens = Number(args.prompt);
const newTokens = Number(args.new);
const seed = Number(args.seed);
/** Every core, at most 16: ours uses them all by default (`threads` 0). */
const ORT_THREADS = Math.min(16, os.availableParallelism());
const config = GPT_CONFIG_124M;
const { heads: H, dim: D, layers } = config;
const hd = D / H;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`logits of ${a.length} and ${b.length} values`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d; // NaN wins
  }
  return worst;
}

/** The first largest entry, as torch.argmax and our greedy pick. */
function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function runOurs(logitsFile) {
  const argv = ['--import', 'tsx', 'bench/model-ours.ts', '--seqs', seqs.join(','), '--reps', String(reps)];
  argv.push('--prompt', String(promptTokens), '--new', String(newTokens), '--seed', String(seed));
  if (logitsFile) argv.push('--logits', logitsFile);
  const out = execFileSync(process.execPath, argv, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Feeds for `ids` at positions P .. P + T − 1 after the cached keys and values `past` (none: P = 0). */
function feeds(ids, P, past) {
  const T = ids.length;
  const input = {
    ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [T]),
    positions: new ort.Tensor('int64', BigInt64Array.from({ length: T }, (_, t) => BigInt(P + t)), [T]),
    mask: new ort.Tensor('float32', causalMask(T, P), [T, P + T]),
  };
  for (let l = 0; l < layers; l++) {
    input[`pastKey${l}`] = past?.[`presentKey${l}`] ?? new ort.Tensor('float32', new Float32Array(0), [H, 0, hd]);
    input[`pastValue${l}`] = past?.[`presentValue${l}`] ?? new ort.Tensor('float32', new Float32Array(0), [H, 0, hd]);
  }
  return input;
}

async function onnxForward(session, T) {
  const input = feeds(sampleIds(T, config.vocabSize), 0);
  await session.run(input); // warm-up
  const samples = [];
  let logits;
  for (let r = 0; r < reps; r++) {
    const started = performance.now();
    logits = (await session.run(input)).logits.data;
    samples.push(performance.now() - started);
  }
  return { ms: median(samples), samples, logits };
}

/** Greedy decoding with the cache: the prompt through the graph, then one token per run. */
async function onnxGenerate(session) {
  const started = performance.now();
  let out = await session.run(feeds(sampleIds(promptTokens, config.vocabSize), 0));
  const ids = [argmax(out.logits.data)];
  const firstAt = performance.now();
  while (ids.length < newTokens) {
    out = await session.run(feeds([ids[ids.length - 1]], promptTokens + ids.length - 1, out));
    ids.push(argmax(out.logits.data));
  }
  const msPerToken = (performance.now() - firstAt) / (newTokens - 1);
  return { firstTokenMs: firstAt - started, msPerToken, tokensPerSecond: 1000 / msPerToken, ids };
}

const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

async function main() {
  const loadStart = os.loadavg();
  const built = performance.now();
  let proto = buildGptModel(createSeededGpt(config, seed));
  const session = await ort.InferenceSession.create(proto, { intraOpNumThreads: ORT_THREADS, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  proto = undefined;
  const setupMs = performance.now() - built;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-model-'));
  const turns = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const logitsFile = round === 0 ? path.join(scratch, 'logits.f32') : undefined;
      const ours = runOurs(logitsFile);
      const onnx = { forward: [] };
      for (const T of seqs) onnx.forward.push(await onnxForward(session, T));
      onnx.generation = await onnxGenerate(session);
      if (logitsFile) {
        const bytes = fs.readFileSync(logitsFile);
        const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
        const V = config.vocabSize;
        onnx.diffs = seqs.map((_, i) => maxAbsDiff(onnx.forward[i].logits, all.subarray(i * V, (i + 1) * V)));
      }
      turns.push({ ours, onnx, load: os.loadavg()[0] });
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
    await session.release();
  }
  const first = turns[0];
  const rows = seqs.map((T, i) => ({
    seq: T,
    oursMs: median(turns.map((t) => t.ours.forward[i].ms)),
    oursUnpackedMs: median(turns.map((t) => t.ours.forward[i].unpackedMs)),
    onnxMs: median(turns.map((t) => t.onnx.forward[i].ms)),
    oursOverOnnx: median(turns.map((t) => t.ours.forward[i].ms / t.onnx.forward[i].ms)),
    maxDiff: first.onnx.diffs[i],
  }));
  const generation = {
    promptTokens,
    newTokens,
    oursTokensPerSecond: median(turns.map((t) => t.ours.generation.tokensPerSecond)),
    onnxTokensPerSecond: median(turns.map((t) => t.onnx.generation.tokensPerSecond)),
    oursFirstTokenMs: median(turns.map((t) => t.ours.generation.firstTokenMs)),
    onnxFirstTokenMs: median(turns.map((t) => t.onnx.generation.firstTokenMs)),
    sameTokens: turns.every((t) => t.ours.generation.ids.every((id, i) => id === t.onnx.generation.ids[i])),
    firstDifference: first.ours.generation.ids.findIndex((id, i) => id !== first.onnx.generation.ids[i]),
  };
  const loadEnd = os.loadavg();
  const header = ['T', 'ours ms', 'unpacked ms', 'onnx ms', 'ours/onnx', 'max|Δ| logits'];
  const table = rows.map((r) => [String(r.seq), fmt(r.oursMs), fmt(r.oursUnpackedMs), fmt(r.onnxMs), `${fmt(r.oursOverOnnx, 2)}×`, r.maxDiff.toExponential(1)]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padStart(widths[i])).join(' | ')} |`;
  console.log(`\nThe whole GPT (GPT-2 small's sizes: ${layers} layers, dim ${D}, ${H} heads, vocab ${config.vocabSize}; seeded ${seed}), forward to the last row's logits: ${rounds} rounds of ours and onnx in turn, each the median of ${reps} runs after a warm-up; times are medians over rounds, ratios the medians of the per-round ratios`);
  console.log(`${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, node ${process.version}; ours on ${first.ours.threads} threads (weights packed in ${fmt(first.ours.packMs, 0)} ms), onnxruntime-node ${ort.env.versions?.common ?? ''} on ${ORT_THREADS} intra-op threads (graph built and session created in ${fmt(setupMs / 1000, 1)} s)`);
  console.log(`load average (1, 5, 15 min) before: ${loadStart.map((x) => x.toFixed(2)).join(', ')}; after: ${loadEnd.map((x) => x.toFixed(2)).join(', ')}\n`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(line(row));
  console.log(`\nGeneration with the key/value cache after a ${promptTokens}-token prompt, ${newTokens} greedy tokens: ours ${fmt(generation.oursTokensPerSecond)} tokens/s, onnx ${fmt(generation.onnxTokensPerSecond)} tokens/s (first token, prompt included: ours ${fmt(generation.oursFirstTokenMs, 0)} ms with packing, onnx ${fmt(generation.onnxFirstTokenMs, 0)} ms); the same tokens: ${generation.sameTokens ? 'yes' : `no, first difference at ${generation.firstDifference}`}`);
  console.log('unpacked ms = our forward packing every weight per product (one run, not in the ratio).');
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ reps, rounds, rows, generation, loadStart, loadEnd, turns: turns.map((t) => ({ ours: t.ours, onnx: { forward: t.onnx.forward.map(({ ms, samples }) => ({ ms, samples })), generation: t.onnx.generation }, load: t.load })) }, null, 2));
}

await main();
