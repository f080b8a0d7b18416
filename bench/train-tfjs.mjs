// The tfjs-wasm side of bench/train.mjs: one training step of the book's GPTModel (forward,
// backward, AdamW) in @tensorflow/tfjs-core 4.22 on @tensorflow/tfjs-backend-wasm, with tfjs's own
// autograd (tf.variableGrads), in its own process, one JSON line out. Run from the repository root:
//   node bench/train-tfjs.mjs --vocab 512 --dim 128 --heads 4 --layers 4 --seq 64 --batch 12 [--steps 5]
//   node bench/train-tfjs.mjs ... --plain-products   (every product untransposed: see PLAIN_PRODUCTS)
//   node bench/train-tfjs.mjs --check    (the embedding gradient against a one-hot product, and the
//     two product forms' gradients against each other on a small model, then exits)
// Prints {"msPerStep", "tokensPerSecond", "forwardMs": null, "backwardMs" (forward + backward, as
// variableGrads does them together), "optimizerMs", "threads", "samplesMs", ...}.
//
// The model, as the book's chapter 4 writes it (and scripts/gen_train_fixtures.py, which
// bench/train-torch.py runs):
//   x = tok_emb[ids] + pos_emb[0:T]                                  (B, T, C)
//   per block:  x = x + out_proj(mha(norm1(x)))     W_query, W_key, W_value without bias
//               x = x + ff2(gelu(ff1(norm2(x))))     ff1 C -> 4C, ff2 4C -> C, both with bias
//   logits = final_norm(x) · out_head               (no bias)
//   loss = mean over the B·T positions of −log softmax(logits)[target]  (F.cross_entropy)
// Layer norm as the book's (mean, biased variance, eps 1e-5, scale and shift); GELU the book's tanh
// form written out elementwise (tfjs has no fused tanh GELU); attention per head scaled by
// 1/√(C/H), the upper triangle set to −∞ before the softmax; dropout 0 (nothing drawn). Linear
// weights are stored (in, out) so every product is a plain matMul; layers with a bias use
// tf.fused.matMul (product + bias in one kernel, tfjs's counterpart of torch's addmm).
//
// Two places where tfjs needs help:
// - The token embedding's gradient: tf.gather's gradient is UnsortedSegmentSum, which the wasm
//   backend does not register. tf.customGrad gives it the same sum with tf.scatterND (which adds
//   the rows of repeated ids), checked by --check against the gradient of a one-hot product.
// - AdamW: tfjs has only Adam (tf.train.adam, with ε = 1e-8 given: its default is 1e-7). Its update
//   is torch's, m̂ / (√v̂ + ε) with both bias corrections. The decoupled weight decay is written
//   here as torch.optim.AdamW applies it: θ ← θ·(1 − lr·λ) on every parameter *before* the Adam
//   step (λ = 0.1, lr 1e-4 as the other two sides), so the step is torch's AdamW exactly.
//
// Threads: tfjs-backend-wasm 4.22 turns multithreading off in Node (its WASM_HAS_MULTITHREAD_SUPPORT
// flag returns false when IS_NODE, tensorflow/tfjs#3830), so it loads the SIMD, single-threaded
// binary; "threads" in the output is what the backend's getThreadsCount() reports (1).
//
// Loading: tfjs-core's CommonJS build (its package "main", what bench/run.mjs requires) registers
// no gradients: the union package @tensorflow/tfjs bundles tfjs-core's register_all_gradients (and
// its chained ops) in. Rather than install the union (layers, converter, webgl, ...), this file
// does what it does: esbuild (the root's) bundles tfjs-core's ES build with those two and
// tfjs-backend-wasm's ES build into one CommonJS file under the system's temp folder (once per
// version), which is required here; the .wasm binaries load from bench/node_modules.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** tfjs-core (ES build) + its gradients + chained ops + the wasm backend, bundled once; returns the module. */
async function loadTfjs() {
  const modules = path.join(here, 'node_modules', '@tensorflow');
  const versions = ['tfjs-core', 'tfjs-backend-wasm'].map((name) => JSON.parse(fs.readFileSync(path.join(modules, name, 'package.json'), 'utf8')).version);
  const bundle = path.join(os.tmpdir(), `llm101-bench-tfjs-${versions.join('-')}-v1.cjs`);
  if (!fs.existsSync(bundle)) {
    const esbuild = createRequire(path.join(here, '..', 'package.json'))('esbuild');
    const scratch = `${bundle}.${process.pid}.tmp`;
    await esbuild.build({
      stdin: {
        contents: [
          "export * from '@tensorflow/tfjs-core/dist/index.js';",
          "import '@tensorflow/tfjs-core/dist/register_all_gradients.js';",
          "import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';",
          "export { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm/dist/index.js';",
        ].join('\n'),
        resolveDir: here,
        loader: 'js',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      mainFields: ['module', 'main'],
      outfile: scratch,
      logLevel: 'warning',
    });
    fs.renameSync(scratch, bundle);
  }
  const tf = require(bundle);
  tf.setWasmPaths(path.join(modules, 'tfjs-backend-wasm', 'dist') + path.sep);
  return tf;
}
const tf = await loadTfjs();

// as benchTrain and bench/train-torch.py: at least 2 untimed steps and at least 0.5 s
const WARMUP_RUNS = 2;
const WARMUP_MS = 500;
const LR = 1e-4;
const WEIGHT_DECAY = 0.1;

const { values } = parseArgs({
  options: {
    ...Object.fromEntries(['vocab', 'dim', 'heads', 'layers', 'seq', 'batch', 'steps'].map((name) => [name, { type: 'string' }])),
    check: { type: 'boolean', default: false },
    'plain-products': { type: 'boolean', default: false },
  },
});

function median(list) {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** A small seeded generator (mulberry32) for the batch's ids; the weights use tfjs's seeded ops. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** torch's defaults: nn.Embedding N(0, 1); nn.Linear weight and bias U(−1/√in, 1/√in). */
function createModel({ vocab: V, dim: C, layers: L, seq: T }, seed = 123) {
  let next = seed;
  const normal = (shape) => tf.variable(tf.randomNormal(shape, 0, 1, 'float32', next++));
  const uniform = (shape, fanIn) => tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), 'float32', next++));
  const norm = () => ({ scale: tf.variable(tf.ones([C])), shift: tf.variable(tf.zeros([C])) });
  const blocks = [];
  for (let l = 0; l < L; l++) {
    blocks.push({
      wq: uniform([C, C], C),
      wk: uniform([C, C], C),
      wv: uniform([C, C], C),
      wo: uniform([C, C], C),
      bo: uniform([C], C),
      norm1: norm(),
      norm2: norm(),
      w1: uniform([C, 4 * C], C),
      b1: uniform([4 * C], C),
      w2: uniform([4 * C, C], 4 * C),
      b2: uniform([C], 4 * C),
    });
  }
  return { tokEmb: normal([V, C]), posEmb: normal([T, C]), blocks, finalNorm: norm(), outHead: uniform([C, V], C) };
}

function variablesOf(model) {
  const list = [];
  const walk = (node) => {
    if (node instanceof tf.Variable) list.push(node);
    else if (Array.isArray(node)) node.forEach(walk);
    else Object.values(node).forEach(walk);
  };
  walk(model);
  return list;
}

/** tok_emb[ids] with its gradient as a scatter-add over the ids (see the header). */
function embedding(ids, V) {
  const N = ids.size;
  const indices = tf.keep(tf.reshape(ids, [N, 1]));
  const lookup = tf.customGrad((table) => ({
    value: tf.gather(table, tf.reshape(indices, [N])),
    gradFunc: (dy) => tf.scatterND(indices, dy, [V, table.shape[1]]),
  }));
  return lookup;
}

function layerNorm(x, { scale, shift }) {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.div(centred, tf.sqrt(tf.add(variance, 1e-5))), scale), shift);
}

const GELU_C = Math.sqrt(2 / Math.PI);
/** The book's GELU: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function gelu(x) {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), GELU_C);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** tfjs's own products: matMul's registered gradient takes transposed operands (transposeA/B). */
const STOCK_PRODUCTS = {
  matMul: (a, b) => tf.matMul(a, b),
  matMulBT: (a, b) => tf.matMul(a, b, false, true),
  linear: (x, w, bias) => tf.fused.matMul({ a: x, b: w, bias }),
};

/** The last two axes swapped. */
const swapLast = (x) => tf.transpose(x, [...x.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : 2 * all.length - 3 - i)));
// (a customGrad's gradFunc reads its inputs through save: the engine may have let go of the originals)
const plainMatMul = tf.customGrad((a, b, save) => {
  save([a, b]);
  return { value: tf.matMul(a, b), gradFunc: (dy, [sa, sb]) => [tf.matMul(dy, swapLast(sb)), tf.matMul(swapLast(sa), dy)] };
});
/**
 * --plain-products: the same products, each operand transposed by a Transpose kernel first so every
 * product, forward and backward, is a plain matMul (tfjs-wasm's transposed path is 10–25× slower
 * than transposing first: 94 ms against 4 ms for a (768, 512)ᵀ·(768, 128) here). Same gradients
 * (--check compares them); a stronger anchor than tfjs's autograd as shipped.
 */
const PLAIN_PRODUCTS = {
  matMul: plainMatMul,
  matMulBT: (a, b) => plainMatMul(a, swapLast(b)),
  linear: tf.customGrad((x, w, bias, save) => {
    save([x, w]);
    return {
      value: tf.fused.matMul({ a: x, b: w, bias }),
      gradFunc: (dy, [sx, sw]) => [tf.matMul(dy, swapLast(sw)), tf.matMul(swapLast(sx), dy), tf.sum(dy, 0)],
    };
  }),
};

/** The forward and the loss on (B, T) ids; returns a scalar. */
function makeLoss(model, products, { vocab: V, dim: C, heads: H, seq: T, batch: B }, inputs, targets) {
  const N = B * T;
  const hd = C / H;
  const embed = embedding(inputs, V);
  const maskValues = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskValues[i * T + j] = -Infinity;
  const mask = tf.keep(tf.tensor2d(maskValues, [T, T]));
  const targetsOneHot = tf.keep(tf.cast(tf.oneHot(tf.reshape(targets, [N]), V), 'float32'));
  const heads = (x2d) => tf.transpose(tf.reshape(x2d, [B, T, H, hd]), [0, 2, 1, 3]); // (B, H, T, hd)
  return () => {
    let x = tf.reshape(tf.add(tf.reshape(embed(model.tokEmb), [B, T, C]), model.posEmb), [N, C]); // (N, C): T ≤ context, pos rows 0..T−1
    for (const blk of model.blocks) {
      const h = layerNorm(x, blk.norm1);
      const q = heads(products.matMul(h, blk.wq));
      const k = heads(products.matMul(h, blk.wk));
      const v = heads(products.matMul(h, blk.wv));
      const scores = tf.add(tf.mul(products.matMulBT(q, k), 1 / Math.sqrt(hd)), mask); // (B, H, T, T)
      const context = products.matMul(tf.softmax(scores), v); // (B, H, T, hd)
      const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [N, C]);
      x = tf.add(x, products.linear(merged, blk.wo, blk.bo));
      const f = gelu(products.linear(layerNorm(x, blk.norm2), blk.w1, blk.b1));
      x = tf.add(x, products.linear(f, blk.w2, blk.b2));
    }
    const logits = products.matMul(layerNorm(x, model.finalNorm), model.outHead); // (N, V)
    return tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), targetsOneHot))), N);
  };
}

/** The token embedding's gradient through the scatter against the same through a one-hot product. */
function check() {
  const V = 11;
  const C = 5;
  const ids = tf.tensor2d([[1, 3, 3, 7], [0, 1, 10, 3]], [2, 4], 'int32');
  const table = tf.variable(tf.randomNormal([V, C], 0, 1, 'float32', 7));
  const weight = tf.randomNormal([2, 4, C], 0, 1, 'float32', 8);
  const embed = embedding(ids, V);
  const viaScatter = tf.variableGrads(() => tf.sum(tf.mul(tf.reshape(embed(table), [2, 4, C]), weight)), [table]).grads[table.name];
  const viaOneHot = tf.variableGrads(
    () => tf.sum(tf.mul(tf.reshape(tf.matMul(tf.cast(tf.oneHot(tf.reshape(ids, [8]), V), 'float32'), table), [2, 4, C]), weight)),
    [table],
  ).grads[table.name];
  const diff = tf.max(tf.abs(tf.sub(viaScatter, viaOneHot))).dataSync()[0];
  // the whole model's gradients with tfjs's products and with the plain ones
  const shape = { vocab: 13, dim: 8, heads: 2, layers: 2, seq: 5, batch: 3 };
  const model = createModel(shape);
  const variables = variablesOf(model);
  const inputs = tf.tensor2d(Int32Array.from({ length: 15 }, (_, i) => (i * 7) % 13), [3, 5], 'int32');
  const targets = tf.tensor2d(Int32Array.from({ length: 15 }, (_, i) => (i * 5 + 3) % 13), [3, 5], 'int32');
  const stock = tf.variableGrads(makeLoss(model, STOCK_PRODUCTS, shape, inputs, targets), variables);
  const plain = tf.variableGrads(makeLoss(model, PLAIN_PRODUCTS, shape, inputs, targets), variables);
  const gradDiff = Math.max(...variables.map((v) => tf.max(tf.abs(tf.sub(stock.grads[v.name], plain.grads[v.name]))).dataSync()[0]));
  const lossDiff = Math.abs(stock.value.dataSync()[0] - plain.value.dataSync()[0]);
  console.log(JSON.stringify({ embeddingGradMaxDiff: diff, plainProductsGradMaxDiff: gradDiff, plainProductsLossDiff: lossDiff, variables: variables.length }));
  if (!(diff < 1e-6 && gradDiff < 1e-5 && lossDiff < 1e-6)) process.exit(1);
}

async function main() {
  await tf.setBackend('wasm');
  await tf.ready();
  if (values.check) return check();
  const shape = Object.fromEntries(['vocab', 'dim', 'heads', 'layers', 'seq', 'batch'].map((name) => [name, Number(values[name])]));
  for (const [name, value] of Object.entries(shape)) if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a whole number >= 1`);
  if (shape.dim % shape.heads) throw new Error('--dim must be a multiple of --heads');
  const steps = Number(values.steps ?? 5);
  const { vocab: V, seq: T, batch: B } = shape;
  const model = createModel(shape);
  const variables = variablesOf(model);
  const random = seeded(124);
  const ids = () => Int32Array.from({ length: B * T }, () => Math.floor(random() * V));
  const inputs = tf.tensor2d(ids(), [B, T], 'int32');
  const targets = tf.tensor2d(ids(), [B, T], 'int32');
  const plainProducts = values['plain-products'];
  const lossFn = makeLoss(model, plainProducts ? PLAIN_PRODUCTS : STOCK_PRODUCTS, shape, inputs, targets);
  const optimizer = tf.train.adam(LR, 0.9, 0.999, 1e-8);
  const decay = 1 - LR * WEIGHT_DECAY;

  const step = () => {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(lossFn, variables);
    const t1 = performance.now();
    tf.tidy(() => {
      for (const variable of variables) variable.assign(tf.mul(variable, decay)); // torch's decoupled decay, first
    });
    optimizer.applyGradients(grads);
    const loss = value.dataSync()[0]; // the wasm backend runs each op when called; this only reads
    const t2 = performance.now();
    tf.dispose([value, ...Object.values(grads)]);
    return { grad: t1 - t0, optimizer: t2 - t1, loss };
  };

  const warmStart = performance.now();
  let warmup = 0;
  let firstLoss = NaN;
  while (warmup < WARMUP_RUNS || performance.now() - warmStart < WARMUP_MS) {
    const { loss } = step();
    if (warmup === 0) firstLoss = loss;
    warmup++;
  }
  const samples = [];
  for (let i = 0; i < steps; i++) samples.push(step());
  const totals = samples.map((s) => s.grad + s.optimizer);
  const msPerStep = median(totals);
  console.log(
    JSON.stringify({
      msPerStep,
      tokensPerSecond: (B * T * 1000) / msPerStep,
      forwardMs: null,
      backwardMs: median(samples.map((s) => s.grad)),
      optimizerMs: median(samples.map((s) => s.optimizer)),
      parameters: variables.reduce((sum, v) => sum + v.size, 0),
      threads: tf.getThreadsCount(),
      simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
      warmup,
      samplesMs: totals,
      firstLoss,
      lastLoss: samples[samples.length - 1].loss,
      tensorsAlive: tf.memory().numTensors,
      plainProducts,
      tfjs: tf.version_core,
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
