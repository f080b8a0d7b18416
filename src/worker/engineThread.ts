// A thread of the engine process (engineProcess.ts): one Analyzer with its caches (corpus,
// tokenizer, weights) and the traces it computed, answering one request at a time. The engine
// process runs three of these: one for analyses, one for the status bar's token counts and one
// for training, so neither a count nor a hover waits behind a long analysis or a training run.
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CANCEL_CELLS, CancelledError, EngineError, SharedCancel } from '../engine/config';
import { ASKED_AT, SHUTDOWN_CELL } from './tables';
import { TrainingSession } from '../engine/train/session';
import { TrainingDriver, bestCheckpointFile } from '../engine/train/driver';
import type { StepResult } from '../engine/train/trainer';
import { encodeMap, weightScale } from '../shared/codes';
import { findMatrix, matrixToCsv } from '../engine/csv';
import { Analyzer, isUserFacing, type AnalyzeRequest, type TraceResult } from '../engine/pipeline';
import { traceToJson, writeJson } from '../engine/serialize';
import { cellWindow, panelGroup, panelStart, toPanelTrace } from './panelTrace';
import { blockThumbs, modelRun, nextTokenView, panelBlock, panelModel, type ModelRun } from './modelView';
import { generateEach } from '../engine/gpt/generate';
import { GPT2_END_OF_TEXT_ID } from '../engine/tokenizer';
import type { Tokenizer } from '../engine/types';
import type { PanelStart, PanelTrace } from '../shared/protocol';
import {
  EngineRequestSchema, EngineThreadDataSchema, parseEngineRequest, type EngineReply, type EngineRequest, type EngineResults, type TrainEvent,
} from '../shared/engineProtocol';
import { parse, problem } from '../shared/wire';
import { TraceStore, typedArrayBytes } from './traceStore';
import { runExperiment } from './experimentsView';
import { progressStage } from '../shared/experimentsProtocol';
import { compareView, type CompareInput } from './compareView';

/** Kept traces may take up to this much beside the newest one. */
export const TRACE_BUDGET_BYTES = 1.5 * 2 ** 30;

const port = parentPort;
if (!port) throw new Error('engineThread.ts must run in a worker thread');
const data = parse(EngineThreadDataSchema, workerData);
if (!data) throw new Error(`engineThread.ts was started with malformed workerData (${problem(EngineThreadDataSchema, workerData) ?? ''})`);
const cancelCells = new Int32Array(data.cancel);
const pauseCells = new Int32Array(data.pause);
const progressCells = new Int32Array(data.progress);
const analyzer = new Analyzer(data.bpeCacheDir);
/** The second model of a comparison, with caches of its own (so neither model evicts the other). */
const otherAnalyzer = new Analyzer(data.bpeCacheDir);
/** A kept analysis: the stages' trace and, when the model ran, what its sections recompute from. */
interface Kept {
  result: TraceResult;
  model?: ModelRun;
}
const traces = new TraceStore<Kept>(data.traceBudgetBytes ?? TRACE_BUDGET_BYTES);

/** What a handler may send before its result. */
interface Replies {
  progress: (stage: string) => void;
  token: (tokenId: number, text: string, count: number) => void;
  train: (event: TrainEvent) => void;
  start: (start: PanelStart) => void;
  stages: (traceId: number, result: TraceResult, panel: PanelTrace) => void;
}
type Handlers = { [Op in EngineRequest['op']]: (request: Extract<EngineRequest, { op: Op }>, replies: Replies) => EngineResults[Op] };

/**
 * A run's steps as 'steps' events: at most one every STEP_REPORT_MS (a step of a tiny model takes
 * a few milliseconds: one message each would flood the host and the panel, and a Pause clicked
 * in the panel would wait behind them), carrying the newest step's numbers and the loss curve's
 * new points, the ones the session's bounded history keeps.
 */
class StepReports {
  private pending: [number, number][] = [];
  private last: StepResult | undefined;
  private sentAt = 0;
  constructor(
    private readonly session: TrainingSession, private readonly total: number, private readonly started: number,
    private readonly send: (event: TrainEvent) => void,
  ) {}

  add(result: StepResult): void {
    this.last = result;
    this.pending.push([result.step, result.loss]);
    if (performance.now() - this.sentAt >= STEP_REPORT_MS) this.flush();
  }

  flush(): void {
    const last = this.last;
    if (!last || this.pending.length === 0) return;
    const { stride } = this.session.history.steps;
    const points = this.pending.filter(([step]) => step % stride === 0);
    this.pending = [];
    this.sentAt = performance.now();
    const elapsedMs = this.sentAt - this.started;
    this.send({
      kind: 'steps', step: last.step, steps: this.total, loss: last.loss, lr: last.lr, tokensPerSecond: last.tokensPerSecond,
      elapsedMs, etaMs: (elapsedMs / last.step) * (this.total - last.step), points, stride,
    });
  }
}

/** Steps reported at most this often (the panel's chart and status redraw at that rate). */
const STEP_REPORT_MS = 100;

/**
 * What a kept analysis takes: its arrays, and what is computed when first read (src/engine/onRead.ts),
 * out of sight of the count, as it will be: the causal stage's and each head's scores and weights,
 * with dropout their dropped weights and the masks kept for them (a byte a cell), the simple and
 * self-attention stages' scores and weights, and the three stages' contexts.
 */
function keptBytes(entry: Kept): number {
  const { tokens, config } = entry.result.trace;
  const T = tokens.length;
  const causalCell = config.dropout > 0 ? 3 * 4 + 1 : 2 * 4;
  const onRead = (config.heads + 1) * causalCell * T ** 2 + 2 * 2 * 4 * T ** 2 + 4 * T * (config.dim + 2 * config.attnDim);
  return typedArrayBytes(entry) + onRead;
}

const kept = (traceId: number): Kept => {
  const entry = traces.get(traceId);
  if (!entry) throw new EngineError(`trace ${traceId} is no longer kept; analyze the text again`);
  return entry;
};

const keptModel = (traceId: number): ModelRun => {
  const run = kept(traceId).model;
  if (!run) throw new EngineError('this analysis has no model (see the message in its model sections)');
  return run;
};

/** The text the ids add after the prompt, as the tokenizer writes it (the word tokenizer puts spaces between words). */
function continuation(tokenizer: Tokenizer, prompt: readonly number[], generated: readonly number[]): string {
  const before = tokenizer.decode(prompt);
  const all = tokenizer.decode([...prompt, ...generated]);
  return all.startsWith(before) ? all.slice(before.length) : ` ${tokenizer.decode(generated)}`;
}

const handlers: Handlers = {
  analyze({ id, traceId, request }, { progress, start, stages }) {
    const signal = new SharedCancel(cancelCells, id);
    // the tokens go to the panel at once, the stages when they are done: a long text's stages and model take seconds each
    const result = analyzer.analyze(request, { signal, onProgress: progress, onStart: (info) => start(panelStart(info)) });
    if (result.kind !== 'trace') return result;
    traces.put(traceId, { result }, keptBytes({ result })); // the panel asks for groups and cells of the stages while the model runs
    stages(traceId, result, toPanelTrace(result, { mapsAsCodes: true }));
    // The model (book chapter 4) on the same text: its sections need only the residual stream;
    // logits are computed per position when asked. A model that cannot run says why in its
    // sections and leaves the seven stages as they are.
    let model: ModelRun | undefined;
    let modelPart: Pick<PanelTrace, 'model' | 'modelError'>;
    try {
      const analysis = analyzer.analyzeModel(request, { signal, onProgress: progress, logits: 'none' });
      model = modelRun(analysis);
      modelPart = { model: panelModel(model) };
    } catch (err) {
      if (err instanceof CancelledError || !isUserFacing(err)) throw err;
      modelPart = { modelError: (err as Error).message };
    }
    if (model) traces.put(traceId, { result, model }, keptBytes({ result, model }));
    return {
      kind: 'trace', traceId, elapsedMs: result.elapsedMs, ...modelPart,
      ...(result.weightsPath !== undefined && { weightsPath: result.weightsPath }),
    };
  },
  tokenize({ id, request }) {
    return analyzer.tokenize(request, { signal: new SharedCancel(cancelCells, id) });
  },
  group({ id, traceId, group }) {
    if (group === 'blocks') {
      const cancel = new SharedCancel(cancelCells, id);
      return { group, data: blockThumbs(keptModel(traceId), () => cancel.aborted) };
    }
    if (group.startsWith('block:')) {
      const layer = Number(group.slice('block:'.length));
      const block = panelBlock(keptModel(traceId), layer);
      return block ? { group: `block:${layer}`, data: block } : null;
    }
    return panelGroup(kept(traceId).result.trace, group) ?? null;
  },
  cells({ traceId, paths, r0, c0, rows, cols }) {
    return cellWindow(kept(traceId).result.trace, paths, r0, c0, rows, cols) ?? null;
  },
  nextToken({ traceId, position, temperature, topK }) {
    return nextTokenView(keptModel(traceId), position, temperature, topK);
  },
  experiment({ id, traceId, query }, { progress }) {
    return runExperiment(keptModel(traceId), query, new SharedCancel(cancelCells, id), (done, total) => progress(progressStage(done, total)));
  },
  train({ id, request }, { progress, train }) {
    const cancel = new SharedCancel(cancelCells, id);
    const started = performance.now();
    const session = TrainingSession.prepare(request, { onProgress: progress, signal: cancel });
    const keepBest = request.keepBest ?? true;
    train({ kind: 'prepared', info: session.info, steps: request.steps, out: request.out, ...(keepBest && { best: bestCheckpointFile(request.out) }) });
    const steps = new StepReports(session, request.steps, started, train);
    const slot = id % CANCEL_CELLS;
    const driver = new TrainingDriver(session, {
      out: request.out, evalEvery: request.evalEvery, sampleEvery: request.sampleEvery, frameEvery: request.frameEvery, keepBest,
      ...(request.patience !== undefined && { patience: request.patience }),
    }, {
      // every other event follows the steps before it, so the panel never shows an evaluation ahead of its step
      step: (result) => {
        Atomics.store(progressCells, slot, result.step);
        steps.add(result);
      },
      evaluated: ({ step, trainLoss, valLoss }) => {
        steps.flush();
        train({ kind: 'eval', step, trainLoss: trainLoss ?? null, valLoss: valLoss ?? null, stride: session.history.evals.stride });
      },
      sampled: (step, text) => {
        steps.flush();
        train({ kind: 'sample', step, text });
      },
      frame: ({ step, heads, roles }) => {
        steps.flush();
        train({ kind: 'frame', step, heads: heads.map((layer) => layer.map((w) => encodeMap(w, weightScale(w.rows), { lower: true }))), roles });
      },
      saved: ({ step, file, best, valLoss }) => {
        steps.flush();
        train({ kind: 'saved', step, file, best, valLoss });
      },
      overfitting: (hint) => {
        steps.flush();
        train({ kind: 'overfitting', ...hint });
      },
    });
    driver.begin();
    const askedAt = () => Atomics.load(progressCells, ASKED_AT + slot);
    while (!driver.done && !cancel.aborted) {
      if (Atomics.load(pauseCells, slot) === id) {
        steps.flush();
        train({ kind: 'paused', paused: true, step: session.stepCount, askedAt: askedAt() });
        while (Atomics.load(pauseCells, slot) === id && !cancel.aborted) Atomics.wait(pauseCells, slot, id, 250);
        train({ kind: 'paused', paused: false, step: session.stepCount });
        if (cancel.aborted) break;
      }
      driver.advance(); // a failing step saves the last completed one and throws, saying where
    }
    const stoppedAt = session.stepCount;
    // what was learned is kept: the last completed step's weights, evaluated, sampled and saved
    // (only saved when the window is closing)
    const result = driver.finish({ quick: Atomics.load(pauseCells, SHUTDOWN_CELL) === 1 });
    session.trainer.releaseActivations(); // so the kernel's idle release can give its memory back
    steps.flush();
    return { ...result, elapsedMs: performance.now() - started, ...(result.stopped && { stop: { step: stoppedAt, askedAt: askedAt() } }) };
  },
  generate({ id, request, maxNewTokens, seed, temperature, topK }, { token }) {
    const tokenizer = analyzer.tokenizer(request);
    const model = analyzer.model(request);
    const ids = tokenizer.encode(request.text).map((t) => t.id);
    if (ids.length === 0) throw new EngineError(`the ${tokenizer.kind} tokenizer finds no tokens to continue; select some words`);
    // the book's generate_text_simple crops the context to the model's last contextLength tokens
    const prompt = ids.slice(-model.config.contextLength);
    const cancel = new SharedCancel(cancelCells, id);
    const generated: number[] = [];
    const end = generateEach(model, prompt, {
      maxNewTokens, temperature, seed, signal: cancel,
      ...(topK !== null && { topK }), ...(tokenizer.kind === 'gpt2' && { eosId: GPT2_END_OF_TEXT_ID }),
    }, ({ id: tokenId }) => {
      generated.push(tokenId);
      token(tokenId, continuation(tokenizer, prompt, generated), generated.length);
    });
    return { prompt, generated, text: continuation(tokenizer, prompt, generated), reason: end.reason };
  },
  compare({ id, request, other, labels }, { progress }) {
    const cancel = new SharedCancel(cancelCells, id);
    const run = (engine: Analyzer, side: AnalyzeRequest, name: string): CompareInput => {
      const hooks = { signal: cancel, onProgress: (stage: string) => progress(`model ${name}: ${stage}`) };
      try {
        const { maxTokens: _limit, ...whole } = side; // the window bounds what is read
        const result = engine.analyze(whole, hooks);
        if (result.kind !== 'trace') throw new EngineError(result.message);
        const analysis = engine.analyzeModel(whole, { ...hooks, logits: 'none' });
        return { result, run: modelRun(analysis) };
      } catch (err) {
        if (err instanceof EngineError && !(err instanceof CancelledError)) throw new EngineError(`model ${name} (${labels[name === 'A' ? 'a' : 'b']}): ${err.message}`);
        throw err;
      }
    };
    const a = run(analyzer, request, 'A');
    const b = run(otherAnalyzer, other, 'B');
    progress('comparing the maps');
    const view = compareView(a, b, labels, () => cancel.aborted);
    if (cancel.aborted) throw new CancelledError();
    return view;
  },
  export({ traceId, format, matrix, file }) {
    const { trace } = kept(traceId).result;
    // In chunks: a long text's JSON is larger than the longest string V8 can hold.
    const chunks: Buffer[] = [];
    let written = 0;
    const fd = file !== undefined ? fs.openSync(file, 'w') : undefined;
    const write = (text: string) => {
      const chunk = Buffer.from(text, 'utf8');
      written += chunk.length;
      if (fd !== undefined) fs.writeSync(fd, chunk);
      else chunks.push(chunk);
    };
    try {
      if (format === 'json') {
        writeJson(traceToJson(trace), write);
      } else {
        const found = matrix === undefined ? undefined : findMatrix(trace, matrix);
        if (!found) throw new EngineError(`the trace has no matrix "${matrix ?? ''}"`);
        write(matrixToCsv(found, trace));
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    return fd !== undefined ? { written } : { bytes: new Uint8Array(Buffer.concat(chunks)), written };
  },
  release({ traceId }) {
    return { released: traces.release(traceId) };
  },
  stats() {
    const usage = process.resourceUsage();
    return { rss: process.memoryUsage.rss(), peakRss: usage.maxRSS * 1024, traces: traces.size, traceBytes: traces.bytes };
  },
};

port.on('message', (raw: unknown) => {
  const message = parseEngineRequest(raw);
  if (!message || !('id' in message)) {
    console.error('[llm101 engine] a thread ignored a malformed request', problem(EngineRequestSchema, raw));
    return;
  }
  const { id } = message;
  const reply = (answer: EngineReply) => port.postMessage(answer);
  try {
    const handler = handlers[message.op] as (m: EngineRequest, replies: Replies) => unknown;
    const result = handler(message, {
      progress: (stage) => reply({ id, type: 'progress', stage }),
      token: (tokenId, text, count) => reply({ id, type: 'token', tokenId, text, count }),
      train: (event) => reply({ id, type: 'train', event }),
      start: (start) => reply({ id, type: 'start', start }),
      stages: (traceId, { elapsedMs, weightsPath }, panel) => reply({ id, type: 'stages', traceId, elapsedMs, ...(weightsPath !== undefined && { weightsPath }), panel }),
    });
    reply({ id, type: 'result', result });
  } catch (err) {
    const cancelled = err instanceof CancelledError;
    const userFacing = isUserFacing(err);
    const text = err instanceof Error ? err.message : String(err);
    const setting = err instanceof EngineError ? err.setting : undefined;
    reply({ id, type: 'error', message: userFacing ? text : `internal error: ${text}`, userFacing, cancelled, ...(setting !== undefined && { setting }) });
    if (!userFacing) console.error('[llm101 engine]', err);
  }
});
