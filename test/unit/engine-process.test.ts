// The engine process as the extension host drives it (dist/engine.js, forked with an IPC
// channel): it keeps the traces and answers cells, groups and exports from them; a cancel stops
// the analysis in flight without ending the process; malformed requests are refused. Also the
// trace store's budget, the contract's validators and the knob check, which need no process.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/engine/config';
import type { AnalyzeRequest } from '../../src/engine/pipeline';
import { EngineReplySchema, EngineResultSchemas, parseEngineReply, parseEngineRequest, type EngineReply } from '../../src/shared/engineProtocol';
import { parse, problem } from '../../src/shared/wire';
import { TraceStore, typedArrayBytes } from '../../src/worker/traceStore';
import { EngineClient } from '../../src/host/engineClient';
import { readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { assertClose } from './assertClose';

const root = path.resolve(__dirname, '..', '..');
const engineJs = path.join(root, 'dist', 'engine.js');
const corpusPath = path.join(root, 'media', 'corpus');
const base: AnalyzeRequest = { ...DEFAULT_CONFIG, text: 'The sea reads the shore one wave at a time.', corpusPath, bpeVocabSize: 512 };

let child: ChildProcess;
/** A request's replies before its result: progress, and an analysis's tokens ('start') and stages, each with the progress before it. */
interface Before {
  progress: string[];
  starts: { start: unknown; afterProgress: string[] }[];
  stages: { reply: unknown; afterProgress: string[] }[];
}
const waiting = new Map<number, Before & { resolve: (reply: EngineReply) => void }>();
let nextId = 1;

function ask(message: Record<string, unknown>): Promise<EngineReply & Before> {
  const id = nextId++;
  return new Promise((resolve) => {
    const before: Before = { progress: [], starts: [], stages: [] };
    waiting.set(id, { resolve: (reply) => resolve({ ...reply, ...before }), ...before });
    child.send({ ...message, id });
  });
}

function result<T>(reply: EngineReply): T {
  assert.equal(reply.type, 'result', reply.type === 'error' ? reply.message : '');
  return (reply as { result: T }).result;
}

before(() => {
  assert.ok(fs.existsSync(engineJs), 'dist/engine.js is built (node esbuild.mjs)');
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-engine-'));
  child = fork(engineJs, [], { serialization: 'advanced', execArgv: [], env: { ...process.env, LLM101_BPE_CACHE: cache } });
  child.on('message', (raw) => {
    const reply = parseEngineReply(raw);
    assert.ok(reply, 'every reply is well formed');
    const entry = waiting.get(reply.id);
    if (!entry) return;
    if (reply.type === 'progress') entry.progress.push(reply.stage);
    else if (reply.type === 'start') entry.starts.push({ start: reply.start, afterProgress: [...entry.progress] });
    else if (reply.type === 'stages') entry.stages.push({ reply, afterProgress: [...entry.progress] });
    else if (reply.type === 'train' || reply.type === 'token') return; // events before the result
    else {
      waiting.delete(reply.id);
      entry.resolve(reply);
    }
  });
});

after(() => child.kill());

test('the engine keeps the trace and answers cells, groups and exports from it', async () => {
  const analyzed = await ask({ op: 'analyze', traceId: 41, request: base });
  const reply = result<{ kind: string; traceId: number; model?: { config: { layers: number } } }>(analyzed);
  // the tokens came first, once, before any stage was computed; the stages once, before the model ran
  assert.equal(analyzed.starts.length, 1);
  assert.equal(analyzed.stages.length, 1);
  const [{ start, afterProgress }] = analyzed.starts as [{ start: { tokens: unknown[]; config: unknown; weightsSource: string }; afterProgress: string[] }];
  const [stages] = analyzed.stages as [{ reply: { traceId: number; panel: { tokens: unknown[]; config: unknown; weightsSource: string } }; afterProgress: string[] }];
  const { panel } = stages.reply;
  assert.deepEqual(start.tokens, panel.tokens);
  assert.deepEqual(start.config, panel.config);
  assert.equal(start.weightsSource, 'seeded');
  assert.ok(!afterProgress.includes('embeddings') && !afterProgress.includes('multiHead'), `no stage before the tokens (${afterProgress.join(', ')})`);
  assert.ok(stages.afterProgress.includes('layerNorm') && !stages.afterProgress.includes('running the model'),
    `the stages after the last stage, before the model (${stages.afterProgress.join(', ')})`);
  assert.ok(analyzed.progress.includes('running the model'));
  assert.equal(stages.reply.traceId, 41);
  assert.equal(panel.tokens.length, 11);
  assert.equal(panel.weightsSource, 'seeded');
  assert.equal(reply.kind, 'trace');
  assert.equal(reply.traceId, 41);
  assert.equal(reply.model?.config.layers, 2, 'the result brings the model');
  const cells = result<{ values: Float32Array[]; rows: number }>(
    await ask({ op: 'cells', traceId: 41, paths: ['causal.weights'], r0: 0, c0: 0, rows: 11, cols: 11 }),
  );
  assert.equal(cells.rows, 11);
  for (let r = 0; r < 11; r++) {
    assertClose(cells.values[0]!.subarray(r * 11, r * 11 + 11).reduce((a, b) => a + b, 0), 1, { atol: 1e-5, label: `row ${r} sums to 1` });
  }
  const group = result<{ data: { weights: unknown } } | null>(await ask({ op: 'group', traceId: 41, group: 'causal' }));
  assert.ok(group?.data.weights, 'the causal group');
  const json = result<{ bytes: Uint8Array }>(await ask({ op: 'export', traceId: 41, format: 'json' }));
  const trace = JSON.parse(Buffer.from(json.bytes).toString('utf8')) as { tokens: unknown[]; config: { qkvBias: boolean } };
  assert.equal(trace.tokens.length, 11);
  assert.equal(trace.config.qkvBias, false);
  const csvFile = path.join(os.tmpdir(), `llm101-${process.pid}.csv`);
  const csv = result<{ written: number }>(await ask({ op: 'export', traceId: 41, format: 'csv', matrix: 'causal.weights', file: csvFile }));
  assert.equal(fs.readFileSync(csvFile, 'utf8').split('\n').filter(Boolean).length, 12); // header + 11 rows
  assert.equal(csv.written, fs.statSync(csvFile).size);
  fs.rmSync(csvFile);
  assert.deepEqual(result(await ask({ op: 'release', traceId: 41 })), { released: true });
  const gone = await ask({ op: 'cells', traceId: 41, paths: ['causal.weights'], r0: 0, c0: 0, rows: 1, cols: 1 });
  assert.equal(gone.type, 'error');
  assert.match((gone as { message: string }).message, /trace 41 is no longer kept; analyze the text again/);
});

test('a cancel stops the analysis in flight and the process keeps its caches', async () => {
  const words = Array.from({ length: 1500 }, (_, i) => ['sea', 'tide', 'light', 'page'][i % 4]).join(' ');
  const long = ask({ op: 'analyze', traceId: 50, request: { ...base, text: words, dim: 768, heads: 12 } });
  const cancelId = nextId - 1;
  // a token count is answered meanwhile: it runs on the process's other thread
  const count = result<{ tokens: unknown[] }>(await ask({ op: 'tokenize', request: { text: 'hello there', tokenizer: 'gpt2', corpusPath: '', bpeVocabSize: 512 } }));
  assert.equal(count.tokens.length, 2);
  child.send({ op: 'cancel', requestId: cancelId });
  const cancelled = await long;
  assert.equal(cancelled.type, 'error');
  assert.equal((cancelled as { cancelled: boolean }).cancelled, true);
  // the same process answers the next request, without building its vocabulary again
  const again = await ask({ op: 'analyze', traceId: 51, request: base });
  assert.equal(result<{ kind: string }>(again).kind, 'trace');
  assert.ok(!again.progress.includes('building the vocabulary'), `cached: ${again.progress.join(', ')}`);
  const stats = result<{ traces: number; rss: number }>(await ask({ op: 'stats' }));
  assert.equal(stats.traces, 1, 'only the finished trace is kept');
  assert.ok(stats.rss > 0);
});

test('bad settings and malformed requests get an answer that says what is wrong', async () => {
  const heads = await ask({ op: 'analyze', traceId: 60, request: { ...base, heads: 5 } });
  assert.equal(heads.type, 'error');
  assert.equal((heads as { userFacing: boolean }).userFacing, true);
  assert.match((heads as { message: string }).message, /heads \(5\) must divide dim \(28\); valid head counts: 1, 2, 4, 7, 14, 28/);
  const seed = await ask({ op: 'analyze', traceId: 61, request: { ...base, seed: -3 } });
  assert.match((seed as { message: string }).message, /^seed must be a whole number >= 0, got -3$/, 'a normal message, not an internal error');
  const malformed = await ask({ op: 'cells', traceId: 1, paths: ['causal.weights'], r0: -1, c0: 0, rows: 1, cols: 1 });
  assert.equal(malformed.type, 'error');
  assert.match((malformed as { message: string }).message, /malformed request/);
});

test('the contract refuses what it cannot trust', () => {
  assert.equal(parseEngineRequest({ id: 1, op: 'cells', traceId: 1, paths: ['x.y'], r0: 0, c0: 0, rows: 65, cols: 1 }), undefined);
  assert.equal(parseEngineRequest({ id: 1, op: 'export', traceId: 1, format: 'csv' }), undefined, 'csv needs a matrix');
  assert.equal(parseEngineRequest({ id: 1, op: 'group', traceId: 1, group: 'head:x' }), undefined);
  assert.equal(parseEngineRequest({ id: 1, op: 'analyze', traceId: 1, request: { ...base, heads: '7' } }), undefined);
  assert.equal(parseEngineRequest({ op: 'nope', id: 1 }), undefined);
  assert.deepEqual(parseEngineRequest({ op: 'cancel', requestId: 9 }), { op: 'cancel', requestId: 9 });
  assert.equal(parseEngineReply({ id: 1, type: 'error', message: 'x' }), undefined, 'an error says whether it is for the user');
});

test("every result the engine sends fits its request's schema, and the host's check refuses one that does not", async () => {
  const long = Array.from({ length: 300 }, () => 'the sea').join(' '); // above LAZY_ABOVE: groups are sent on request
  const asked = await ask({ op: 'analyze', traceId: 70, request: { ...base, text: long, maxTokens: 2048 } });
  const analyzed = result<unknown>(asked);
  const reply = parse(EngineResultSchemas.analyze, analyzed);
  assert.ok(reply?.kind === 'trace', problem(EngineResultSchemas.analyze, analyzed));
  const stages = parseEngineReply(asked.stages[0]?.reply);
  assert.ok(stages?.type === 'stages', 'the stages reply is well formed');
  assert.equal(stages.panel.causal, null, 'the causal stage is left to a request');
  for (const group of ['causal', 'head:1', 'simple']) {
    const answer = result<unknown>(await ask({ op: 'group', traceId: 70, group }));
    const data = parse(EngineResultSchemas.group, answer);
    assert.equal(data?.group, group, problem(EngineResultSchemas.group, answer));
  }
  const tokens = result<unknown>(await ask({ op: 'tokenize', request: { ...base } }));
  assert.ok(parse(EngineResultSchemas.tokenize, tokens), problem(EngineResultSchemas.tokenize, tokens));
  // A result that does not fit is refused, and the problem names where.
  const broken = { ...stages, panel: { ...stages.panel, layerNorm: { ...stages.panel.layerNorm, mean: [0] } } };
  assert.equal(parseEngineReply(broken), undefined);
  assert.match(problem(EngineReplySchema, broken) ?? '', /panel\.layerNorm\.mean/);
  assert.equal(parse(EngineResultSchemas.analyze, { ...(analyzed as object), model: { config: {} } }), undefined, 'a malformed model is refused');
  assert.equal(parse(EngineResultSchemas.group, { group: 'causal', data: { droppedWeights: stages.panel.layerNorm.output } }), undefined, 'a group is its kind of data');
  result(await ask({ op: 'release', traceId: 70 }));
});

test('the trace store keeps the newest trace whatever its size and evicts the oldest beyond the budget', () => {
  const store = new TraceStore<{ data: Float32Array }>(1000);
  store.put(1, { data: new Float32Array(100) }); // 400 bytes
  store.put(2, { data: new Float32Array(100) });
  assert.deepEqual([store.size, store.bytes], [2, 800]);
  store.put(3, { data: new Float32Array(100) }); // 1,200 > 1,000: the oldest goes
  assert.equal(store.get(1), undefined);
  assert.ok(store.get(2) && store.get(3));
  store.put(4, { data: new Float32Array(1000) }); // 4,000 bytes alone: kept, every older one goes
  assert.deepEqual([store.size, store.bytes], [1, 4000]);
  assert.ok(store.get(4));
  assert.equal(store.release(4), true);
  assert.deepEqual([store.size, store.bytes], [0, 0]);
});

test("counting a kept trace's bytes reads no getter (a head's maps are computed when first read)", () => {
  let read = false;
  const head = {
    context: new Float32Array(10),
    get weights() {
      read = true;
      return new Float32Array(1000);
    },
  };
  assert.equal(typedArrayBytes({ heads: [head], shared: head.context }), 40, 'the context once, the getter not at all');
  assert.equal(read, false);
});

test('training runs on its own thread: events, pause and Stop within one step, Stop keeps a checkpoint of the last step, hovers answered meanwhile', async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-train-')), 'models', 'tiny.safetensors');
  const job = {
    corpusPaths: [corpusPath], tokenizer: 'word', dim: 16, heads: 2, layers: 1, contextLength: 16, batchSize: 4, steps: 100_000,
    lr: 3e-3, seed: 3, dropout: 0, out, evalEvery: 20, sampleEvery: 40, frameEvery: 20,
  };
  const id = nextId;
  type Event = { kind: string; step?: number; paused?: boolean; askedAt?: number; points?: [number, number][] };
  const events: Event[] = [];
  let stopAt: number | undefined;
  let pauseSent = false;
  const done = new Promise<EngineReply>((resolve) => {
    waiting.set(id, { resolve, progress: [], starts: [], stages: [] });
    nextId++;
    child.send({ id, op: 'train', request: job });
  });
  const onEvent = (raw: unknown) => {
    const reply = raw as { id: number; type: string; event?: Event };
    if (reply.id !== id || reply.type !== 'train' || !reply.event) return;
    const event = reply.event;
    events.push(event);
    if (event.kind === 'steps' && (event.step ?? 0) >= 25 && !pauseSent) {
      pauseSent = true;
      child.send({ op: 'pause', requestId: id, paused: true });
    }
    if (event.kind === 'paused' && event.paused) child.send({ op: 'pause', requestId: id, paused: false });
    if (event.kind === 'steps' && stopAt === undefined && events.some((e) => e.kind === 'paused' && e.paused === false) && (event.step ?? 0) >= 200) {
      stopAt = event.step;
      child.send({ op: 'cancel', requestId: id });
    }
  };
  child.on('message', onEvent);
  // the analysis thread answers while the training thread trains
  const analysis = result<{ kind: string }>(await ask({ op: 'analyze', traceId: 90, request: base }));
  assert.equal(analysis.kind, 'trace');
  const reply = await done;
  child.off('message', onEvent);
  const trained = result<{ file: string; step: number; stopped: boolean; trainLoss: number; stop?: { step: number; askedAt: number } }>(reply);
  assert.equal(trained.stopped, true);
  assert.ok(trained.stop, 'a stopped run says when the stop arrived');
  assert.equal(trained.stop.step, trained.step);
  assert.ok(trained.step - trained.stop.askedAt <= 1, `the stop arrived after step ${trained.stop.askedAt} and the run stopped after step ${trained.step}`);
  const kinds = new Set(events.map((e) => e.kind));
  for (const kind of ['prepared', 'steps', 'eval', 'sample', 'frame', 'saved', 'paused']) assert.ok(kinds.has(kind), `a ${kind} event`);
  const paused = events.filter((e) => e.kind === 'paused');
  assert.deepEqual(paused.map((e) => e.paused), [true, false]);
  const [pausedAt, resumedAt] = paused.map((e) => e.step ?? -1);
  assert.ok(pausedAt! - paused[0]!.askedAt! <= 1, `the pause arrived after step ${paused[0]!.askedAt} and took effect after step ${pausedAt}`);
  assert.equal(resumedAt, pausedAt, 'no step while paused');
  // steps come batched, not one message each, and every step's loss is in the curve
  const stepEvents = events.filter((e) => e.kind === 'steps');
  const points = stepEvents.flatMap((e) => e.points ?? []).map(([step]) => step);
  assert.deepEqual(points, Array.from({ length: trained.step }, (_, i) => i + 1));
  console.log(`# ${trained.step} steps in ${stepEvents.length} step reports; pause asked after step ${paused[0]!.askedAt}, paused after ${pausedAt}; stop asked after ${trained.stop.askedAt}, stopped after ${trained.step}`);
  const loaded = readGptCheckpoint(out);
  assert.equal(loaded.metadata['llm101.step'], String(trained.step), 'the checkpoint is the last completed step');
});

test('closing the window: a shutdown stops the training run at its step, saves only the checkpoint, answers, and the engine exits', async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-shutdown-')), 'models', 'closing.safetensors');
  const engine = fork(engineJs, [], { serialization: 'advanced', execArgv: [] });
  const exited = new Promise<number | null>((resolve) => engine.on('exit', (code) => resolve(code)));
  const kinds: string[] = [];
  let shutdownSent = false;
  const reply = new Promise<EngineReply>((resolve) => {
    engine.on('message', (raw) => {
      const message = parseEngineReply(raw);
      assert.ok(message);
      if (message.type === 'train') {
        kinds.push(shutdownSent ? `after:${message.event.kind}` : message.event.kind);
        if (message.event.kind === 'steps' && message.event.step >= 10 && !shutdownSent) {
          shutdownSent = true;
          engine.send({ op: 'shutdown' });
        }
      } else if (message.type === 'result' || message.type === 'error') resolve(message);
    });
  });
  engine.send({
    id: 1, op: 'train', request: {
      corpusPaths: [corpusPath], tokenizer: 'word', dim: 16, heads: 2, layers: 1, contextLength: 16, batchSize: 4, steps: 1_000_000,
      lr: 3e-3, seed: 3, dropout: 0, out, evalEvery: 1000, sampleEvery: 1000, frameEvery: 1000,
    },
  });
  const trained = result<{ step: number; stopped: boolean; trainLoss: number | null }>(await reply);
  assert.equal(await exited, 0, 'the engine exits by itself once the run has saved');
  assert.equal(trained.stopped, true);
  assert.equal(trained.trainLoss, null, 'no last evaluation: only the checkpoint');
  assert.deepEqual(kinds.filter((k) => k.startsWith('after:') && !['after:steps', 'after:saved'].includes(k)), [], 'no evaluation, sample or frame after the shutdown');
  assert.equal(readGptCheckpoint(out).metadata['llm101.step'], String(trained.step));
});

test('the extension host\'s shutdown (what deactivate returns) resolves once a training run has saved and the engine has exited', async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-deactivate-')), 'models', 'closing.safetensors');
  const client = new EngineClient(path.join(root, 'dist'));
  let started: () => void = () => {};
  const running = new Promise<void>((resolve) => (started = resolve));
  const { done } = client.train({
    corpusPaths: [corpusPath], tokenizer: 'word', dim: 16, heads: 2, layers: 1, contextLength: 16, batchSize: 4, steps: 1_000_000,
    lr: 3e-3, seed: 3, dropout: 0, out, evalEvery: 1000, sampleEvery: 1000, frameEvery: 1000,
  }, (event) => {
    if (event.kind === 'steps' && event.step >= 10) started();
  });
  await running;
  const pid = client.pid;
  assert.ok(pid);
  await client.shutdown(60_000);
  const trained = await done;
  assert.equal(trained.stopped, true);
  assert.equal(readGptCheckpoint(out).metadata['llm101.step'], String(trained.step), 'the checkpoint of the step it stopped at is on disk');
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the engine process has exited');
});
