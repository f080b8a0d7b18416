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
import { parseEngineRequest, type EngineReply, type EngineRequest } from '../shared/engineProtocol';
import { CANCEL_CELLS, cancelRequest } from '../engine/config';
import type { EngineThreadData } from './engineThread';

const send = (reply: EngineReply): void => {
  process.send?.(reply);
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
const pause = new SharedArrayBuffer(4 * CANCEL_CELLS);
const pauseCells = new Int32Array(pause);
const bpeCacheDir = process.env.LLM101_BPE_CACHE || undefined;
type Role = 'engine' | 'tokens' | 'training';
const threads = new Map<Role, Worker>();

/** The thread for a role, started the first time it is needed (or again after it failed). */
function thread(role: Role): Worker {
  const existing = threads.get(role);
  if (existing) return existing;
  const workerData: EngineThreadData = { cancel, pause, ...(bpeCacheDir !== undefined && { bpeCacheDir }) };
  const worker = new Worker(path.join(__dirname, 'engineThread.js'), { workerData });
  const inFlight = new Set<number>();
  worker.on('message', (reply: EngineReply) => {
    if (reply.type !== 'progress') inFlight.delete(reply.id);
    send(reply);
  });
  const fail = (reason: string) => {
    if (threads.get(role) !== worker) return;
    threads.delete(role);
    for (const id of inFlight) send({ id, type: 'error', message: `the engine stopped unexpectedly: ${reason}`, userFacing: false, cancelled: false });
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
  if (message.op === 'cancel') {
    cancelRequest(cancelCells, message.requestId);
    Atomics.notify(pauseCells, message.requestId % CANCEL_CELLS); // a paused run wakes up to stop
    return;
  }
  if (message.op === 'pause') {
    const slot = message.requestId % CANCEL_CELLS;
    Atomics.store(pauseCells, slot, message.paused ? message.requestId : 0);
    Atomics.notify(pauseCells, slot);
    return;
  }
  thread(message.op === 'tokenize' ? 'tokens' : message.op === 'train' ? 'training' : 'engine').postMessage(message);
});

// The extension host went away (window closed, reload): so does the engine.
process.on('disconnect', () => process.exit(0));
