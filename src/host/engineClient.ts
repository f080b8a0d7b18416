// The extension host's handle on the engine process (src/worker/engineProcess.ts), forked the
// first time something needs it: a command, a panel, or the status bar's count for a visible
// editor. The engine keeps the traces; the host keeps trace ids and relays what the panel asks.
//
// Requests are paired with their replies by id. A new analysis cancels the one in flight, and
// cancel() stops it, by a flag the engine reads at its next stage or head boundary: the engine
// process keeps running with its caches (corpus, trained tokenizer, weights). Only if the process
// dies (out of memory, a crash) do the pending requests fail; the next request forks a new one.
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { CancelledError, EngineError } from '../engine/config';
import type { AnalyzeRequest, TokenizeRequest } from '../engine/pipeline';
import type { CellsQuery, LazyGroup, PanelStart, PanelTrace } from '../shared/protocol';
import { parseProgressStage, type ExperimentQuery } from '../shared/experimentsProtocol';
import {
  EngineResultSchemas, parseEngineReply, type CancelMessage, type EngineReply, type EngineRequest, type EngineResults, type PauseMessage,
  type Sampling, type ShutdownMessage, type TrainEvent, type TrainJob,
} from '../shared/engineProtocol';
import { parse, problem } from '../shared/wire';

/** What a request's replies before its result go to (each request kind sends some of them). */
interface Events {
  onProgress?: (stage: string) => void;
  onToken?: (token: { tokenId: number; text: string; count: number }) => void;
  onTrain?: (event: TrainEvent) => void;
  /** analyze: the tokens, before any stage is computed. */
  onStart?: (start: PanelStart) => void;
  /** analyze: the stages' panel (the engine keeps them under traceId), before the model runs. */
  onStages?: (stages: { traceId: number; elapsedMs: number; weightsPath?: string; panel: PanelTrace }) => void;
}

interface Pending extends Events {
  op: EngineRequest['op'];
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

/** Distributes Omit over a union (each request without its id). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class EngineClient {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private nextTraceId = 1;
  private disposed = false;
  private readonly generationCancelled = new Set<() => void>();

  /**
   * `distDir` holds engine.js and engineThread.js; `bpeCacheDir`: where the engine keeps trained
   * BPE models (the extension's global storage).
   */
  constructor(
    private readonly distDir: string,
    private readonly bpeCacheDir?: string,
    /** The `threads` setting (0 = every core), read when the engine process starts. */
    private readonly threads: () => number = () => 0,
  ) {}

  /**
   * Runs an analysis (cancelling the one in flight); the engine keeps its trace under the returned
   * traceId. `onStart` gets the tokens as soon as the text is tokenized, `onStages` the stages'
   * panel before the model runs; the result adds the model's part.
   */
  analyze(request: AnalyzeRequest, events: Pick<Events, 'onProgress' | 'onStart' | 'onStages'> = {}): Promise<EngineResults['analyze']> {
    this.cancel();
    return this.send<'analyze'>({ op: 'analyze', traceId: this.nextTraceId++, request }, events);
  }

  tokenize(request: TokenizeRequest): Promise<EngineResults['tokenize']> {
    return this.send<'tokenize'>({ op: 'tokenize', request });
  }

  group(traceId: number, group: LazyGroup): Promise<EngineResults['group']> {
    return this.send<'group'>({ op: 'group', traceId, group });
  }

  cells(traceId: number, query: CellsQuery): Promise<EngineResults['cells']> {
    return this.send<'cells'>({ op: 'cells', traceId, ...query });
  }

  /** JSON of the whole trace, or CSV of one matrix; written by the engine to `file` when given. */
  export(traceId: number, format: 'json' | 'csv', options: { matrix?: string; file?: string } = {}): Promise<EngineResults['export']> {
    return this.send<'export'>({ op: 'export', traceId, format, ...options });
  }

  /** The engine forgets a trace (its panel closed or shows a newer one). */
  release(traceId: number): void {
    if (this.child) void this.send<'release'>({ op: 'release', traceId }).catch(() => undefined);
  }

  /** The next-token distribution of a kept trace's model after `position`. */
  nextToken(traceId: number, position: number, sampling: Sampling): Promise<EngineResults['nextToken']> {
    return this.send<'nextToken'>({ op: 'nextToken', traceId, position, ...sampling });
  }

  /**
   * An experiment on a kept trace's model (cancelling the one in flight); the scan and patching
   * report (done, total) to `onProgress`. cancelExperiment() stops them at their next run.
   */
  experiment(traceId: number, query: ExperimentQuery, onProgress?: (done: number, total: number) => void): Promise<EngineResults['experiment']> {
    this.cancelExperiment();
    const progress = onProgress && ((stage: string) => {
      const counts = parseProgressStage(stage);
      if (counts) onProgress(counts.done, counts.total);
    });
    return this.send<'experiment'>({ op: 'experiment', traceId, query }, { onProgress: progress });
  }

  cancelExperiment(): void {
    this.cancelOp('experiment');
  }

  /**
   * Generates after `request.text`, each new token passed to `onToken` as it comes; cancelGeneration()
   * (or a new generation) stops it after the token in progress, and the promise still resolves
   * with what was generated.
   */
  generate(
    request: AnalyzeRequest, options: Sampling & { maxNewTokens: number; seed: number },
    onToken: (token: { tokenId: number; text: string; count: number }) => void,
  ): Promise<EngineResults['generate']> {
    this.cancelGeneration();
    return this.send<'generate'>({ op: 'generate', request, ...options }, { onToken });
  }

  /** Stops the generation in flight, and tells whoever writes its tokens (onGenerationCancel) to stop at once. */
  cancelGeneration(): void {
    for (const listener of [...this.generationCancelled]) listener();
    this.cancelOp('generate');
  }

  /** Called whenever a generation is cancelled (also by a newer one); returns the unsubscribe. */
  onGenerationCancel(listener: () => void): () => void {
    this.generationCancelled.add(listener);
    return () => this.generationCancelled.delete(listener);
  }

  /**
   * Trains on the engine's training thread (analyses and hovers go on meanwhile); events arrive
   * through `onTrain`. Returns the run's id for pauseTraining and stopTraining.
   */
  train(job: TrainJob, onTrain: (event: TrainEvent) => void): { id: number; done: Promise<EngineResults['train']> } {
    const id = this.nextId++;
    return { id, done: this.send<'train'>({ op: 'train', request: job }, { onTrain }, id) };
  }

  /** The same text through two models, map by map (cancelling the comparison in flight). */
  compare(request: AnalyzeRequest, other: AnalyzeRequest, labels: { a: string; b: string }, onProgress?: (stage: string) => void): Promise<EngineResults['compare']> {
    this.cancelOp('compare');
    return this.send<'compare'>({ op: 'compare', request, other, labels }, { onProgress });
  }

  pauseTraining(id: number, paused: boolean): void {
    const message: PauseMessage = { op: 'pause', requestId: id, paused };
    this.child?.send(message);
  }

  /** Stops a training run after its current step; it saves what it learned and resolves normally. */
  stopTraining(id: number): void {
    const message: CancelMessage = { op: 'cancel', requestId: id };
    this.child?.send(message);
  }

  stats(): Promise<EngineResults['stats']> {
    return this.send<'stats'>({ op: 'stats' });
  }

  /** The engine process's id, while it runs (for measurements). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stops the analysis in flight, if any, at its next check point; its promise rejects with CancelledError. */
  cancel(): void {
    this.cancelOp('analyze');
  }

  private cancelOp(op: 'analyze' | 'generate' | 'experiment' | 'compare'): void {
    if (!this.child) return;
    for (const [id, pending] of this.pending) {
      if (pending.op !== op) continue;
      const message: CancelMessage = { op: 'cancel', requestId: id };
      this.child.send(message);
    }
  }

  /**
   * Ends the engine process. A training run in flight first stops at its current step and saves
   * its checkpoint (the engine exits once it has); resolves when the process has exited, or after
   * `waitMs` (the extension host gives deactivation 5 s), leaving the engine to finish the save.
   */
  shutdown(waitMs = 4500): Promise<void> {
    this.disposed = true;
    const child = this.child;
    if (!child) return Promise.resolve();
    if (![...this.pending.values()].some((p) => p.op === 'train')) {
      this.stop(new CancelledError());
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      const message: ShutdownMessage = { op: 'shutdown' };
      child.send(message);
    });
  }

  /** Ends the engine process (a training run saves first, as shutdown()). */
  dispose(): void {
    void this.shutdown();
  }

  private stop(reason: Error): void {
    const child = this.child;
    this.child = undefined;
    child?.kill();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(reason);
  }

  private send<Op extends EngineRequest['op']>(
    message: WithoutId<Extract<EngineRequest, { op: Op }>>, events: Events = {}, id = this.nextId++,
  ): Promise<EngineResults[Op]> {
    if (this.disposed) return Promise.reject(new CancelledError());
    const child = this.ensureChild();
    return new Promise<EngineResults[Op]>((resolve, reject) => {
      this.pending.set(id, { ...events, op: message.op, resolve: resolve as (r: unknown) => void, reject });
      child.send({ ...message, id });
    });
  }

  private receive(raw: unknown): void {
    const reply = parseEngineReply(raw);
    if (!reply) {
      console.warn('[llm101] ignored a malformed reply from the engine', raw);
      return;
    }
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    // the replies before the result go to the request's events
    switch (reply.type) {
      case 'progress': pending.onProgress?.(reply.stage); return;
      case 'token': pending.onToken?.(reply); return;
      case 'train': pending.onTrain?.(reply.event); return;
      case 'start': pending.onStart?.(reply.start); return;
      case 'stages': pending.onStages?.(reply); return;
    }
    this.pending.delete(reply.id);
    if (reply.type === 'error') {
      pending.reject(replyError(reply));
      return;
    }
    // The result is checked against the schema of the request it answers, as every message is.
    const schema = EngineResultSchemas[pending.op];
    const result = parse(schema, reply.result);
    if (result === undefined) {
      pending.reject(new Error(`internal error: the engine's answer to '${pending.op}' is malformed (${problem(schema, reply.result) ?? 'unknown'})`));
    } else {
      pending.resolve(result);
    }
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(path.join(this.distDir, 'engine.js'), [], {
      // Structured clone, so typed arrays cross as binary and -Infinity survives.
      serialization: 'advanced',
      // Not the extension host's flags (an inspector port, for one); Electron's binary runs as Node.
      // --expose-gc: the kernel collects its released workspace at once (src/engine/kernels/pool.ts).
      execArgv: ['--expose-gc'],
      // LLM101_THREADS: the kernel's threads in every thread of the engine (src/engine/kernels/pool.ts)
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', LLM101_THREADS: String(this.threads()), ...(this.bpeCacheDir !== undefined && { LLM101_BPE_CACHE: this.bpeCacheDir }) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (raw) => this.receive(raw));
    const fail = (reason: string) => {
      if (this.child !== child) return;
      this.stop(new Error(`the engine stopped unexpectedly (${reason}); run the command again`));
    };
    child.on('error', (err) => fail(err.message));
    child.on('exit', (code, signal) => fail(signal ? `signal ${signal}` : `exit code ${code}`));
    this.child = child;
    return child;
  }
}

function replyError(reply: Extract<EngineReply, { type: 'error' }>): Error {
  if (reply.cancelled) return new CancelledError();
  return reply.userFacing ? new EngineError(reply.message, { ...(reply.setting !== undefined && { setting: reply.setting }) }) : new Error(reply.message);
}
