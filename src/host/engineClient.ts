// Runs the engine in a worker thread so the extension host never blocks on a long selection.
// One run at a time: a new run cancels the one in flight. Cancelling terminates the worker (the
// only way to stop a synchronous computation at once); the next run starts a fresh one, which
// costs a re-trained BPE vocabulary at most (cached again after that run).
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import type { AnalyzeRequest, AnalyzeResult, WorkerReply } from '../engine/pipeline';

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
  }
}

interface Pending {
  id: number;
  resolve: (r: AnalyzeResult) => void;
  reject: (e: Error) => void;
  onProgress?: (stage: string) => void;
}

export class EngineClient {
  private worker: Worker | undefined;
  private pending: Pending | undefined;
  private nextId = 1;

  constructor(private readonly distDir: string) {}

  run(request: AnalyzeRequest, onProgress?: (stage: string) => void): Promise<AnalyzeResult> {
    this.cancel();
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<AnalyzeResult>((resolve, reject) => {
      this.pending = { id, resolve, reject, onProgress };
      worker.postMessage({ id, request });
    });
  }

  /** Stops the run in flight, if any; its promise rejects with CancelledError. */
  cancel(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    void this.worker?.terminate();
    this.worker = undefined;
    pending.reject(new CancelledError());
  }

  dispose(): void {
    this.cancel();
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(path.join(this.distDir, 'worker.js'));
    worker.on('message', (reply: WorkerReply) => {
      const pending = this.pending;
      if (!pending || reply.id !== pending.id) return;
      if (reply.type === 'progress') {
        pending.onProgress?.(reply.stage);
        return;
      }
      this.pending = undefined;
      if (reply.type === 'result') pending.resolve(reply.result);
      else pending.reject(Object.assign(new Error(reply.message), { userFacing: reply.userFacing }));
    });
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(new Error(`the engine stopped unexpectedly: ${err.message}`));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.worker === worker) fail(new Error(`worker exited with code ${code}`));
    });
    this.worker = worker;
    return worker;
  }
}
