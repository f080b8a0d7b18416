// Runs the engine in a worker thread so the extension host never blocks on a long selection.
// Analyses: one at a time, a new one cancels the one in flight. Cancelling terminates the worker
// (the only way to stop a synchronous computation at once); the next request starts a fresh one,
// which reloads its tokenizer (trained BPE models come from the disk cache). Tokenize requests
// queue behind each other.
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { CancelledError } from '../engine/config';
import type { AnalyzeRequest, AnalyzeResult, TokenizeRequest, TokenizeResult, WorkerReply, WorkerRequest } from '../engine/pipeline';

interface Pending {
  op: WorkerRequest['op'];
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
  onProgress?: (stage: string) => void;
}

export class EngineClient {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** `bpeCacheDir`: where the worker keeps trained BPE models (the extension's global storage). */
  constructor(private readonly distDir: string, private readonly bpeCacheDir?: string) {}

  run(request: AnalyzeRequest, onProgress?: (stage: string) => void): Promise<AnalyzeResult> {
    this.cancel();
    return this.send({ id: this.nextId++, op: 'analyze', request }, onProgress);
  }

  tokenize(request: TokenizeRequest): Promise<TokenizeResult> {
    return this.send({ id: this.nextId++, op: 'tokenize', request });
  }

  /** Stops the analysis in flight, if any; its promise (and any queued behind it) rejects with CancelledError. */
  cancel(): void {
    if (![...this.pending.values()].some((p) => p.op === 'analyze')) return;
    this.stop(new CancelledError());
  }

  dispose(): void {
    this.stop(new CancelledError());
  }

  private stop(reason: Error): void {
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(reason);
  }

  private send<T>(message: WorkerRequest, onProgress?: (stage: string) => void): Promise<T> {
    const worker = this.ensureWorker();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(message.id, { op: message.op, resolve: resolve as (r: unknown) => void, reject, onProgress });
      worker.postMessage(message);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(path.join(this.distDir, 'worker.js'), { workerData: { bpeCacheDir: this.bpeCacheDir } });
    worker.on('message', (reply: WorkerReply) => {
      const pending = this.pending.get(reply.id);
      if (!pending) return;
      if (reply.type === 'progress') {
        pending.onProgress?.(reply.stage);
        return;
      }
      this.pending.delete(reply.id);
      if (reply.type === 'result') pending.resolve(reply.result);
      else pending.reject(new Error(reply.message));
    });
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.stop(new Error(`the engine stopped unexpectedly: ${err.message}`));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}
