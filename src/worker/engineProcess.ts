// The engine process: the extension host forks it (src/host/engineClient.ts) so that the
// engine's memory (traces of hundreds of MB, model weights, optimiser state) is not the
// extension host's. This main thread only routes: it validates each request, passes it to the
// engine thread (analyses, exports, cells, generation), the tokens thread (status bar counts) or
// the training thread, sets the shared cancel and pause flags the moment a 'cancel' or 'pause'
// arrives (the threads compute synchronously and read no messages until they finish), and relays
// the replies back.
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  EngineReplySchema, parseEngineReply, parseEngineRequest, type EngineReply, type EngineRequest, type EngineThreadData,
} from '../shared/engineProtocol';
import { problem } from '../shared/wire';
import { CANCEL_CELLS, cancelRequest } from '../engine/config';
import { ASKED_AT, PAUSE_CELLS, PROGRESS_CELLS, SHUTDOWN_CELL } from './tables';

/** Sends a reply to the host; `then` runs once it has left (or at once when the host is gone). */
const send = (reply: EngineReply, then?: () => void): void => {
  if (!process.connected) {
    then?.();
    return;
  }
  if (then) process.send?.(reply, undefined, undefined, () => then());
  else process.send?.(reply);
};
if (!process.send) throw new Error('engineProcess.ts runs as a child process with an IPC channel (child_process.fork)');

// Below the editor's priority: analyses and training use every core (the `threads` setting) and
// the editor still gets them first. Threads started from here on inherit it.
try {
  os.setPriority(os.constants.priority.PRIORITY_BELOW_NORMAL);
} catch {
  // not permitted here: run at the normal priority
}

const cancel = new SharedArrayBuffer(4 * CANCEL_CELLS);
const cancelCells = new Int32Array(cancel);
const pause = new SharedArrayBuffer(4 * PAUSE_CELLS);
const pauseCells = new Int32Array(pause);
const progress = new SharedArrayBuffer(4 * PROGRESS_CELLS);
const progressCells = new Int32Array(progress);
/** Training requests in flight: a shutdown waits for them to save. */
const training = new Set<number>();
const bpeCacheDir = process.env.LLM101_BPE_CACHE || undefined;
type Role = 'engine' | 'tokens' | 'training';
const threads = new Map<Role, Worker>();

/** The thread for a role, started the first time it is needed (or again after it failed). */
function thread(role: Role): Worker {
  const existing = threads.get(role);
  if (existing) return existing;
  const workerData: EngineThreadData = { cancel, pause, progress, ...(bpeCacheDir !== undefined && { bpeCacheDir }) };
  const worker = new Worker(path.join(__dirname, 'engineThread.js'), { workerData });
  const inFlight = new Set<number>();
  worker.on('message', (raw: unknown) => {
    // the envelope only: a result is checked by the host against its request's schema
    const reply = parseEngineReply(raw);
    if (!reply) {
      console.error('[llm101 engine] a thread sent a malformed reply', problem(EngineReplySchema, raw));
      return;
    }
    if (reply.type === 'result' || reply.type === 'error') {
      inFlight.delete(reply.id);
      training.delete(reply.id);
    }
    // a shutdown ends once the last run's answer has left
    send(reply, shuttingDown && training.size === 0 ? () => process.exit(0) : undefined);
  });
  const fail = (reason: string) => {
    if (threads.get(role) !== worker) return;
    threads.delete(role);
    for (const id of inFlight) {
      training.delete(id);
      send({ id, type: 'error', message: `the engine stopped unexpectedly: ${reason}`, userFacing: false, cancelled: false }, shuttingDown && training.size === 0 ? () => process.exit(0) : undefined);
    }
    inFlight.clear();
  };
  worker.on('error', (err) => fail(err.message));
  worker.on('exit', (code) => fail(`its thread exited with code ${code}`));
  const post = worker.postMessage.bind(worker);
  worker.postMessage = (message: EngineRequest) => {
    inFlight.add(message.id);
    post(message);
  };
  threads.set(role, worker);
  return worker;
}

process.on('message', (raw: unknown) => {
  const message = parseEngineRequest(raw);
  if (!message) {
    const id = (raw as { id?: unknown } | null)?.id;
    if (typeof id === 'number') send({ id, type: 'error', message: 'internal error: a malformed request to the engine', userFacing: false, cancelled: false });
    return;
  }
  if (message.op === 'shutdown') {
    shutdown();
    return;
  }
  if (message.op === 'cancel') {
    askedAt(message.requestId);
    cancelRequest(cancelCells, message.requestId);
    Atomics.notify(pauseCells, message.requestId % CANCEL_CELLS); // a paused run wakes up to stop
    return;
  }
  if (message.op === 'pause') {
    const slot = message.requestId % CANCEL_CELLS;
    if (message.paused) askedAt(message.requestId);
    Atomics.store(pauseCells, slot, message.paused ? message.requestId : 0);
    Atomics.notify(pauseCells, slot);
    return;
  }
  if (shuttingDown) {
    send({ id: message.id, type: 'error', message: 'the engine is shutting down', userFacing: false, cancelled: true });
    return;
  }
  if (message.op === 'train') {
    training.add(message.id);
    Atomics.store(progressCells, message.id % CANCEL_CELLS, 0);
  }
  thread(message.op === 'tokenize' ? 'tokens' : message.op === 'train' ? 'training' : 'engine').postMessage(message);
});

/** A pause or stop of request `id` arrives: the steps its run had completed by then. */
function askedAt(id: number): void {
  const slot = id % CANCEL_CELLS;
  Atomics.store(progressCells, ASKED_AT + slot, Atomics.load(progressCells, slot));
}

let shuttingDown = false;
/** Longest a shutdown waits for a training run to save before the process exits anyway. */
const SHUTDOWN_WAIT_MS = 60_000;

/**
 * The window is closing: every training run stops at its current step and saves (only the
 * checkpoint), then the process exits; with nothing to save it exits at once.
 */
function shutdown(): void {
  if (shuttingDown) return;
  shuttingDown = true;
  if (training.size === 0) process.exit(0);
  Atomics.store(pauseCells, SHUTDOWN_CELL, 1);
  for (const id of training) {
    cancelRequest(cancelCells, id);
    Atomics.notify(pauseCells, id % CANCEL_CELLS);
  }
  setTimeout(() => process.exit(0), SHUTDOWN_WAIT_MS).unref();
}

// The extension host went away (window closed, reload): a training run saves, then the engine exits.
process.on('disconnect', shutdown);
